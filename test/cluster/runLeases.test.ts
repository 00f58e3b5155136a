import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunLeases } from '../../src/cluster/runLeases.js';
import type { Db } from '../../src/db/connection.js';
import { dbTime } from '../../src/db/dbClock.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';
import { LONG_AGO, leaseTestDatabase, runRow } from './fixtures.js';

describe(`run leases on ${TEST_ENGINE}`, () => {
  let env: Awaited<ReturnType<typeof leaseTestDatabase>>;
  let db: Db;
  let a: RunLeases;
  let b: RunLeases;
  beforeEach(async () => {
    env = await leaseTestDatabase();
    db = env.opened.db;
    a = new RunLeases(db, 'i-a', 30_000);
    b = new RunLeases(db, 'i-b', 30_000);
  });
  afterEach(async () => {
    await env.close();
  });

  const lease = async (id: string) => db.selectFrom('runs').select(['lease_owner', 'lease_expires_at', 'slot_held', 'queued_at']).where('id', '=', id).executeTakeFirstOrThrow();
  const expire = (id: string) => db.updateTable('runs').set({ lease_expires_at: LONG_AGO }).where('id', '=', id).execute();

  it('one instance at a time: a live lease cannot be taken, an expired one can, and the old holder learns it lost it', async () => {
    await db.insertInto('runs').values(runRow('r-1')).execute();
    expect(await a.claim('r-1')).toBe(true);
    expect(await a.claim('r-1')).toBe(true); // ours already
    expect(await b.claim('r-1')).toBe(false);
    const held = await lease('r-1');
    expect(held.lease_owner).toBe('i-a');
    // Timestamps of the database's clock, in the same ISO-8601 form as every other stored time.
    expect(held.lease_expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(held.lease_expires_at!) - Date.now()).toBeGreaterThan(25_000);

    await expire('r-1');
    expect(await b.claim('r-1')).toBe(true);
    expect(await a.release('r-1', 'idle')).toBe('lost');
    expect(await a.renewAll()).toBe(0);
    expect((await lease('r-1')).lease_owner).toBe('i-b');
  });

  it('an idle release only succeeds once the run is not running: a decision made elsewhere meanwhile keeps the holder going', async () => {
    await db.insertInto('runs').values(runRow('r-1')).execute();
    await a.claim('r-1');
    expect(await a.release('r-1', 'idle')).toBe('running');
    expect((await lease('r-1')).lease_owner).toBe('i-a');
    await db.updateTable('runs').set({ status: 'awaiting_approval' }).where('id', '=', 'r-1').execute();
    expect(await a.release('r-1', 'idle')).toBe('released');
    expect(await lease('r-1')).toMatchObject({ lease_owner: null, lease_expires_at: null, slot_held: 0 });
  });

  it('a handover frees the run at once and keeps its place in the queue; a cooldown keeps others off for a lease period', async () => {
    await db.insertInto('runs').values([runRow('r-1'), runRow('r-2')]).execute();
    await a.claim('r-1');
    await db.updateTable('runs').set({ queued_at: '2026-01-01T00:00:01.000Z', slot_held: 1 }).where('id', '=', 'r-1').execute();
    expect(await a.release('r-1', 'handover')).toBe('released');
    expect(await lease('r-1')).toMatchObject({ lease_owner: null, slot_held: 0, queued_at: '2026-01-01T00:00:01.000Z' });
    expect(await b.claim('r-1')).toBe(true);

    await a.claim('r-2');
    expect(await a.release('r-2', 'cooldown')).toBe('released');
    expect((await lease('r-2')).lease_owner).toBeNull();
    expect(await b.claim('r-2')).toBe(false);
    await expire('r-2');
    expect(await b.claim('r-2')).toBe(true);
  });

  it('the heartbeat renews every lease of its instance and no other', async () => {
    await db.insertInto('runs').values([runRow('r-1'), runRow('r-2'), runRow('r-3')]).execute();
    await a.claim('r-1');
    await a.claim('r-2');
    await b.claim('r-3');
    await db.updateTable('runs').set({ lease_expires_at: LONG_AGO }).execute();
    expect(await a.renewAll()).toBe(2);
    expect((await lease('r-1')).lease_expires_at).not.toBe(LONG_AGO);
    expect((await lease('r-3')).lease_expires_at).toBe(LONG_AGO);
  });

  it('orphans: running runs nobody live holds, ended runs left mid-dispatch by a gone instance, and our own leases', async () => {
    await db
      .insertInto('runs')
      .values([
        runRow('r-new'),
        runRow('r-live', { lease_owner: 'i-b', lease_expires_at: '2999-01-01T00:00:00.000Z' }),
        runRow('r-dead', { lease_owner: 'i-b', lease_expires_at: LONG_AGO }),
        runRow('r-waiting', { status: 'awaiting_approval' }),
        runRow('r-cut', { status: 'cancelled', lease_owner: 'i-b', lease_expires_at: LONG_AGO }),
        runRow('r-cut-live', { status: 'cancelled', lease_owner: 'i-b', lease_expires_at: '2999-01-01T00:00:00.000Z' }),
        runRow('r-mine', { status: 'completed', lease_owner: 'i-a', lease_expires_at: '2999-01-01T00:00:00.000Z' }),
      ])
      .execute();
    const action = (id: string, runId: string) => ({
      id,
      run_id: runId,
      team_id: 'T1',
      message_seq: 1,
      block_index: 0,
      tool_use_id: `tu-${id}`,
      tool: 'send_email',
      input_json: '{}',
      input_hash: 'h',
      mode: 'require_approval' as const,
      decision: 'ask' as const,
      status: 'dispatching' as const,
      created_at: LONG_AGO,
      updated_at: LONG_AGO,
    });
    await db.insertInto('actions').values([action('a-1', 'r-cut'), action('a-2', 'r-cut-live')]).execute();
    expect((await a.orphans()).sort()).toEqual(['r-cut', 'r-dead', 'r-mine', 'r-new']);
  });

  it('dbTime adds to the clock it reads (the database server on Postgres)', async () => {
    const row = await db.selectNoFrom([dbTime(db).as('now'), dbTime(db, 60_000).as('later')]).executeTakeFirstOrThrow();
    expect(Math.abs(Date.parse(row.now) - Date.now())).toBeLessThan(60_000);
    expect(Date.parse(row.later) - Date.parse(row.now)).toBeGreaterThanOrEqual(59_900);
    expect(row.later > row.now).toBe(true);
  });
});
