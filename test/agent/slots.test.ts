import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunSlots } from '../../src/agent/slots.js';
import { RunLeases } from '../../src/cluster/runLeases.js';
import type { Db } from '../../src/db/connection.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';
import { waitUntil } from '../helpers/testApp.js';
import { LONG_AGO, leaseTestDatabase, runRow } from '../cluster/fixtures.js';

// Two instances' slot keepers on one database (on SQLite the same code, one connection).
describe(`concurrency slots across instances on ${TEST_ENGINE}`, () => {
  let env: Awaited<ReturnType<typeof leaseTestDatabase>>;
  let db: Db;
  const queued: string[] = [];
  const instance = (owner: string, limit = 1) => ({
    leases: new RunLeases(db, owner, 30_000),
    slots: new RunSlots({ db, owner, limit: () => limit, onQueued: (runId) => queued.push(runId) }),
  });
  beforeEach(async () => {
    env = await leaseTestDatabase();
    db = env.opened.db;
    queued.length = 0;
  });
  afterEach(async () => {
    await env.close();
  });

  it('the limit holds across instances; waiters are served in order wherever they wait; positions are the workspace queue', async () => {
    const a = instance('i-a');
    const b = instance('i-b');
    await db.insertInto('runs').values([runRow('r-1'), runRow('r-2'), runRow('r-3')]).execute();
    for (const [i, id] of [[a, 'r-1'], [b, 'r-2'], [a, 'r-3']] as const) expect(await i.leases.claim(id)).toBe(true);

    expect(await a.slots.acquire('T1', 'r-1', false)).toBe('granted');
    const second = b.slots.acquire('T1', 'r-2', false);
    await waitUntil(() => queued.includes('r-2') || undefined, 'r-2 to queue');
    const third = a.slots.acquire('T1', 'r-3', false);
    await waitUntil(() => queued.includes('r-3') || undefined, 'r-3 to queue');
    expect(await a.slots.position('T1', 'r-2')).toBe(1);
    expect(await b.slots.position('T1', 'r-3')).toBe(2);
    expect(await a.slots.position('T1', 'r-1')).toBeUndefined();

    // A frees its slot; its own waiter (r-3) is behind B's (r-2), so it does not jump the queue.
    await a.slots.release('T1', 'r-1');
    b.slots.poke(); // B's sweep
    expect(await second).toBe('granted');
    expect(await a.slots.position('T1', 'r-3')).toBe(1);
    await b.slots.release('T1', 'r-2');
    a.slots.poke();
    expect(await third).toBe('granted');
  });

  it('a run resuming after an approval waits ahead of runs that have not started', async () => {
    const a = instance('i-a');
    await db.insertInto('runs').values([runRow('r-1'), runRow('r-new'), runRow('r-resuming', { turns: 2 })]).execute();
    for (const id of ['r-1', 'r-new', 'r-resuming']) await a.leases.claim(id);
    expect(await a.slots.acquire('T1', 'r-1', false)).toBe('granted');
    const fresh = a.slots.acquire('T1', 'r-new', false);
    await waitUntil(() => queued.includes('r-new') || undefined, 'r-new to queue');
    const resuming = a.slots.acquire('T1', 'r-resuming', true);
    await waitUntil(() => queued.includes('r-resuming') || undefined, 'r-resuming to queue');
    expect(await a.slots.position('T1', 'r-resuming')).toBe(1);
    expect(await a.slots.position('T1', 'r-new')).toBe(2);
    await a.slots.release('T1', 'r-1');
    expect(await resuming).toBe('granted');
    await a.slots.release('T1', 'r-resuming');
    expect(await fresh).toBe('granted');
  });

  it("a dead instance's slot frees itself when its lease expires; shutdown releases waiters", async () => {
    const a = instance('i-a');
    const b = instance('i-b');
    await db.insertInto('runs').values([runRow('r-1'), runRow('r-2')]).execute();
    await a.leases.claim('r-1');
    await b.leases.claim('r-2');
    expect(await a.slots.acquire('T1', 'r-1', false)).toBe('granted');
    const waiting = b.slots.acquire('T1', 'r-2', false);
    await waitUntil(() => queued.includes('r-2') || undefined, 'r-2 to queue');
    // A dies: nobody renews its lease.
    await db.updateTable('runs').set({ lease_expires_at: LONG_AGO }).where('id', '=', 'r-1').execute();
    b.slots.poke();
    expect(await waiting).toBe('granted');

    await db.insertInto('runs').values(runRow('r-3')).execute();
    await b.leases.claim('r-3');
    const blocked = b.slots.acquire('T1', 'r-3', false);
    await waitUntil(() => queued.includes('r-3') || undefined, 'r-3 to queue');
    b.slots.drain();
    expect(await blocked).toBe('stopped');
  });
});
