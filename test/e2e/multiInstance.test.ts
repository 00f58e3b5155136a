import { afterEach, describe, expect, it } from 'vitest';
import type { OpenedDatabase } from '../../src/db/connection.js';
import { textReply, toolUseReply, type FakeReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, waitUntil, type AppInstance, type Harness } from '../helpers/testApp.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';

// Several real app processes on one Postgres database (SQLite is one instance by design). The harness's
// in-process app is one instance; the others are child processes (`node --import tsx src/main.ts`).
const LEASE_MS = 2000; // RUN_LEASE_SECONDS in the harness

const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };

/** Claude's first answer waits for `open()`: the instance that asked is "mid-turn" until then. */
function gatedFirstCall(first: FakeReply, rest: (body: any) => FakeReply) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const handler = async (body: any, ctx: { callIndex: number }): Promise<FakeReply> => {
    if (ctx.callIndex === 0) {
      await gate;
      return first;
    }
    // The same turn asked again (by the instance that took the run over), or the next one.
    return body.messages.length === 1 ? first : rest(body);
  };
  return { handler, open };
}

describe.skipIf(TEST_ENGINE !== 'postgres')('several instances on one Postgres database', () => {
  let h: Harness | undefined;
  let probe: OpenedDatabase | undefined;
  afterEach(async () => {
    await probe?.db.destroy();
    probe = undefined;
    await h?.close();
    h = undefined;
  });

  const db = () => (probe ??= h!.database.open()).db;
  const instanceOf = async (i: AppInstance) =>
    waitUntil(async () => (await db().selectFrom('instances').select('id').where('pid', '=', i.child.pid!).executeTakeFirst())?.id, 'the child instance row');
  const runRow = (id?: string) => (id ? db().selectFrom('runs').selectAll().where('id', '=', id) : db().selectFrom('runs').selectAll()).executeTakeFirst();

  it('Approve clicked at the same moment on two instances: the email is sent once, one click wins, the others are told', async () => {
    h = await startHarness();
    const b = await h.spawnInstance();
    for (let round = 0; round < 3; round++) {
      h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { ...email, subject: `Q2 (${round})` } }]), textReply(`Sent (${round}).`));
      await h.command(`run email Sarah the numbers, round ${round}`, round % 2 === 0 ? {} : { via: b.url });
      const card = (await h.waitForCards(round + 1)).at(-1)!;
      await waitUntil(async () => ((await db().selectFrom('actions').select('status').where('id', '=', card.actionId).executeTakeFirst())?.status === 'pending' ? true : undefined), 'the card to be pending');
      const clicks = await Promise.all([
        h.click(card, 'approve', APPROVER),
        h.click(card, 'approve', 'U_THIRD', undefined, b.url),
        h.click(card, 'approve', REQUESTER, undefined, b.url),
        h.click(card, 'approve', 'U_FOURTH'),
      ]);
      expect(clicks.map((c) => c.status)).toEqual([200, 200, 200, 200]);
      await h.smtp.waitForMail(round + 1);
      const action = await waitUntil(async () => {
        const a = await db().selectFrom('actions').selectAll().where('id', '=', card.actionId).executeTakeFirst();
        return a?.status === 'succeeded' ? a : undefined;
      }, 'the send to be recorded');
      const losers = ['U_APPROVER', 'U_THIRD', 'U_REQ', 'U_FOURTH'].filter((u) => u !== action.decided_by);
      await waitUntil(() => losers.every((u) => h!.slack.ephemerals(u).some((e) => e.text.includes('already approved'))), 'private answers to the losers');
      await h.waitForRun((r) => r.task.endsWith(`round ${round}`) && r.status === 'completed');
    }
    expect(h.smtp.mails.map((m) => m.headers.subject)).toEqual(['Q2 (0)', 'Q2 (1)', 'Q2 (2)']);
    expect(h.smtp.dataAttempts()).toBe(3);
    expect(await db().selectFrom('activity').select('id').where('kind', '=', 'approved').execute()).toHaveLength(3);
    expect(await db().selectFrom('activity').select('id').where('kind', '=', 'action_dispatched').execute()).toHaveLength(3);
  }, 150_000);

  it('a click on one instance while another still holds the run is not stranded: the holder carries on (no lease expiry needed)', async () => {
    // A long lease: a click that had to wait for it to expire would take 30 s.
    h = await startHarness({ env: { RUN_LEASE_SECONDS: '30' } });
    const other = await h.addApp();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    const run = await h.waitForRun((r) => r.status === 'awaiting_approval' && r.lease_owner === null);
    // The moment just after A suspended the run and before it let go of the lease.
    await db().updateTable('runs').set({ lease_owner: h.app.instanceId, lease_expires_at: '2999-01-01T00:00:00.000Z' }).where('id', '=', run.id).execute();
    const clickedAt = Date.now();
    expect((await h.click(card!, 'approve', APPROVER, undefined, `http://127.0.0.1:${other.port}`)).status).toBe(200);
    await h.smtp.waitForMail(1, 15_000);
    await h.waitForRun((r) => r.id === run.id && r.status === 'completed');
    expect(Date.now() - clickedAt).toBeLessThan(15_000);
    expect(h.smtp.dataAttempts()).toBe(1);
    expect((await runRow(run.id))?.lease_owner).toBeNull();
  }, 150_000);

  it("the concurrency limit and the queue are the workspace's, across instances: one model call at a time, FIFO, positions shown", async () => {
    h = await startHarness({ env: { MAX_CONCURRENT_RUNS: '1' } });
    const other = await h.addApp();
    const waiting: Array<() => void> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    h.claude.respond(async (body) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      return textReply(`done: ${String(body.messages[0].content[0].text).includes('first') ? 'first' : 'later'}`);
    });
    const label = async (task: string, text: string) => {
      const run = await h!.waitForRun((r) => r.task === task && r.thread_ts !== null);
      await waitUntil(() => JSON.stringify(h!.slack.message(run.channel_id, run.thread_ts!)?.blocks ?? []).includes(text) || undefined, `"${text}" on ${task}`);
    };
    await h.command('run first task');
    await waitUntil(() => waiting.length === 1 || undefined, 'the first run to call Claude');
    await h.command('run second task', { via: `http://127.0.0.1:${other.port}` });
    await label('second task', 'queued (position 1)');
    await h.command('run third task');
    await label('third task', 'queued (position 2)');
    for (let i = 1; i <= 3; i++) {
      await waitUntil(() => waiting.length === i || undefined, `call ${i} to be in flight`);
      waiting[i - 1]!();
    }
    await waitUntil(async () => ((await db().selectFrom('runs').select('status').execute()).every((r) => r.status === 'completed') ? true : undefined), 'all three to complete');
    expect(maxInFlight).toBe(1);
    const order = h.claude.requests.map((r) => String(r.body.messages[0].content[0].text));
    expect(order.map((t) => ['first', 'second', 'third'].find((w) => t.includes(`${w} task`)))).toEqual(['first', 'second', 'third']);
  }, 150_000);

  it('kill -9 of the instance running a run mid-turn: another instance resumes it within the lease time, nothing done twice', async () => {
    h = await startHarness();
    await h.stopApp();
    const b = await h.spawnInstance();
    const bId = await instanceOf(b);
    const claude = gatedFirstCall(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), () => textReply('Q2 revenue grew 12%.'));
    h.claude.respond(claude.handler);
    const res = await h.command('run what happened in Q2?', { via: b.url });
    const runId = /`(r-[a-z0-9]+)`/.exec(String(res.json?.text))![1]!;
    // B is waiting for Claude, holding the run's lease.
    await waitUntil(() => h!.claude.requests.length === 1 || undefined, 'B to call Claude');
    expect((await runRow(runId))?.lease_owner).toBe(bId);

    await h.restart(); // the in-process instance A joins
    const aId = h.app.instanceId;
    const killedAt = Date.now();
    b.child.kill('SIGKILL');
    expect(await b.exited).toBeNull();
    claude.open(); // the answer to B's call goes nowhere

    await waitUntil(async () => ((await runRow(runId))?.lease_owner === aId ? true : undefined), 'A to take the run over', 15_000);
    const takeoverMs = Date.now() - killedAt;
    const run = await h.waitForRun((r) => r.id === runId && r.status === 'completed', 15_000);
    console.info(`multi-instance: run taken over ${takeoverMs} ms after kill -9 (lease ${LEASE_MS} ms)`);
    // At most one lease period (B renewed it just before dying) plus one sweep, with room for a busy machine.
    expect(takeoverMs).toBeLessThan(LEASE_MS + 3000);

    // The interrupted call was asked again by A; the search ran once; one answer in the thread.
    await h.delivered();
    expect(h.claude.requests.filter((r) => !r.rejected).map((r) => r.body.messages.length)).toEqual([1, 1, 3]);
    const searches = await db().selectFrom('actions').select(['status']).where('run_id', '=', runId).execute();
    expect(searches).toEqual([{ status: 'succeeded' }]);
    const assistant = await db().selectFrom('run_messages').select('seq').where('run_id', '=', runId).where('role', '=', 'assistant').execute();
    expect(assistant).toHaveLength(2);
    expect(h.threadTexts(run).filter((t) => t.includes('Q2 revenue grew 12%.'))).toHaveLength(1);
  }, 150_000);

  it("an instance starting or restarting never marks another instance's dispatch in flight outcome_unknown", async () => {
    h = await startHarness({ smtp: { holdData: true } });
    await h.stopApp();
    const b = await h.spawnInstance();
    const bId = await instanceOf(b);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah the numbers', { via: b.url });
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'approve', APPROVER, undefined, b.url);
    const action = () => db().selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    await waitUntil(async () => ((await action()).status === 'dispatching' && h!.smtp.dataAttempts() === 1 ? true : undefined), 'B to be inside the SMTP send');
    const runId = (await action()).run_id;
    expect((await runRow(runId))?.lease_owner).toBe(bId);

    // A starts, then restarts, while B's send hangs.
    await h.restart();
    await h.restart();
    // A has swept for more than a lease period (B's heartbeat kept renewing the lease meanwhile).
    const seen = (await runRow(runId))!.lease_expires_at!;
    await waitUntil(async () => {
      const r = await runRow(runId);
      return r?.lease_owner === bId && Date.parse(r.lease_expires_at!) >= Date.parse(seen) + LEASE_MS ? true : undefined;
    }, 'a lease period to pass with B alive', 10_000);
    expect((await action()).status).toBe('dispatching');

    expect(h.smtp.releaseHeld()).toBe(1);
    await waitUntil(async () => ((await action()).status === 'succeeded' ? true : undefined), 'the send to be recorded as done');
    await h.waitForRun((r) => r.status === 'completed');
    expect(h.smtp.mails).toHaveLength(1);
    expect(await db().selectFrom('activity').select('id').where('kind', '=', 'action_outcome_unknown').execute()).toHaveLength(0);
  }, 150_000);

  it('SIGTERM drains: /healthz answers 503, the step in flight finishes, the run is handed over at once (not after the lease), exit 0', async () => {
    // A long lease: a handover that waited for it to expire would take 30 s.
    h = await startHarness({ env: { RUN_LEASE_SECONDS: '30' } });
    await h.stopApp();
    const b = await h.spawnInstance();
    const bId = await instanceOf(b);
    const claude = gatedFirstCall(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), () => textReply('Q2 revenue grew 12%.'));
    h.claude.respond(claude.handler);
    const res = await h.command('run what happened in Q2?', { via: b.url });
    const runId = /`(r-[a-z0-9]+)`/.exec(String(res.json?.text))![1]!;
    await waitUntil(() => h!.claude.requests.length === 1 || undefined, 'B to call Claude');
    expect((await runRow(runId))?.lease_owner).toBe(bId);
    await h.restart(); // A

    const signalledAt = Date.now();
    b.child.kill('SIGTERM');
    await waitUntil(async () => ((await b.health()) === 503 ? true : undefined), 'B to answer 503 while draining');
    claude.open(); // B's step in flight finishes and is kept
    expect(await b.exited).toBe(0);
    await h.waitForRun((r) => r.id === runId && r.status === 'completed', 15_000);
    const handedOverMs = Date.now() - signalledAt;
    console.info(`multi-instance: SIGTERM to completion on the other instance in ${handedOverMs} ms (lease 30 s)`);
    expect(handedOverMs).toBeLessThan(15_000);
    // B's call was not thrown away: two calls in all, the search ran once (on A).
    expect(h.claude.requests.filter((r) => !r.rejected).map((r) => r.body.messages.length)).toEqual([1, 3]);
    expect(await db().selectFrom('actions').select('status').where('run_id', '=', runId).execute()).toEqual([{ status: 'succeeded' }]);
    expect(await db().selectFrom('instances').select('id').where('id', '=', bId).execute()).toEqual([]);
  }, 150_000);

  it('a second signal exits at once, without waiting for the step in flight', async () => {
    h = await startHarness();
    await h.stopApp();
    const b = await h.spawnInstance();
    const claude = gatedFirstCall(textReply('Done.'), () => textReply('Done.'));
    h.claude.respond(claude.handler);
    await h.command('run summarise the week', { via: b.url });
    await waitUntil(() => h!.claude.requests.length === 1 || undefined, 'B to call Claude');
    b.child.kill('SIGTERM');
    await waitUntil(async () => ((await b.health()) === 503 ? true : undefined), 'B to answer 503 while draining');
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(1);
    claude.open();
    // The run was not finished by B: it is still running, and its lease expires by itself.
    expect((await runRow())?.status).toBe('running');
  }, 30_000);
});
