import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callHash } from '../../src/agent/hash.js';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, type Harness } from '../helpers/testApp.js';
import { Dispatcher } from '../../src/agent/dispatcher.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { z } from 'zod';
import { pino } from 'pino';
import { OutcomeUnknownError, ToolError } from '../../src/errors.js';

/** Attempts to get around the single dispatcher's checks; every one must fail and send nothing. */
describe('the dispatcher cannot be talked into sending', () => {
  let h: Harness;
  let actionId: string;
  let dispatcher: Dispatcher;
  let sent: unknown[];

  beforeEach(async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Q2', body: 'Hello' } }]), textReply('done'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    // Let the engine finish suspending the run (it marks it waiting right after posting the card), so
    // the state each test sets up is not overwritten behind its back.
    await h.waitForRun((r) => r.status === 'awaiting_approval');
    actionId = card!.actionId;
    sent = [];
    const registry = new ToolRegistry().register({
      name: 'send_email',
      description: 'test double that records sends',
      hardFloor: true,
      inputSchema: z.object({ to: z.string(), subject: z.string(), body: z.string() }),
      describe: (i) => ({ summary: `send to ${i.to}` }),
      run: async (input) => {
        sent.push(input);
        return { content: 'sent' };
      },
    });
    dispatcher = new Dispatcher({ db: h.app.db, registry, clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), queue: { warnAt: 100, stopAt: 500 } });
  });
  afterEach(async () => {
    await h.close();
  });

  // Running, and leased to an instance that is not the harness's app: its sweep leaves the run to the
  // dispatcher under test instead of advancing it itself.
  const setRunning = () => h.app.db.updateTable('runs').set({ status: 'running', lease_owner: 'i-test', lease_expires_at: '2999-01-01T00:00:00.000Z' }).execute();

  it('refuses a pending (unapproved) action', async () => {
    await setRunning();
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it('refuses an action marked approved without a recorded approver', async () => {
    await setRunning();
    await h.app.db.updateTable('actions').set({ status: 'approved' }).where('id', '=', actionId).execute();
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it('refuses when the stored input was changed after approval', async () => {
    await setRunning();
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    await h.app.db
      .updateTable('actions')
      .set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash, input_json: JSON.stringify({ to: 'attacker@evil.test', subject: 'Q2', body: 'Hello' }) })
      .where('id', '=', actionId)
      .execute();
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_input_mismatch' });
    expect(sent).toHaveLength(0);
  });

  it('refuses when the hash was recomputed for new input but the approval covered the old one', async () => {
    await setRunning();
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    const input = JSON.stringify({ to: 'attacker@evil.test', subject: 'Q2', body: 'Hello' });
    await h.app.db
      .updateTable('actions')
      .set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash, input_json: input, input_hash: callHash('send_email', input, a.prepared_json) })
      .where('id', '=', actionId)
      .execute();
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_input_mismatch' });
    expect(sent).toHaveLength(0);
  });

  it('refuses a hard-floor action that claims the policy approved it', async () => {
    await setRunning();
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    await h.app.db.updateTable('actions').set({ status: 'approved', decided_by: 'policy', decided_at: new Date().toISOString(), approved_hash: a.input_hash }).where('id', '=', actionId).execute();
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'policy_forbids' });
    expect(sent).toHaveLength(0);
  });

  it('refuses when the run is not running (cancelled, or still suspended)', async () => {
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    await h.app.db.updateTable('actions').set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash }).where('id', '=', actionId).execute();
    await h.app.db.updateTable('runs').set({ status: 'cancelled' }).execute();
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'invalid_state' });
    expect(sent).toHaveLength(0);
  });

  it("refuses an instance whose lease on the run was taken over by another instance (its own expired)", async () => {
    await setRunning();
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    await h.app.db.updateTable('actions').set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash }).where('id', '=', actionId).execute();
    await expect(dispatcher.dispatch(actionId, undefined, { leaseOwner: 'i-stalled' })).rejects.toMatchObject({ code: 'lease_lost' });
    expect(sent).toHaveLength(0);
    expect((await h.app.db.selectFrom('actions').select('status').where('id', '=', actionId).executeTakeFirstOrThrow()).status).toBe('approved');
    await dispatcher.dispatch(actionId, undefined, { leaseOwner: 'i-test' });
    expect(sent).toHaveLength(1);
  });

  it('uses an approval once: a second dispatch of the same action is refused', async () => {
    await setRunning();
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    await h.app.db.updateTable('actions').set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash }).where('id', '=', actionId).execute();
    const results = await Promise.allSettled([dispatcher.dispatch(actionId), dispatcher.dispatch(actionId), dispatcher.dispatch(actionId)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(sent).toHaveLength(1);
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(1);
    const refusals = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'dispatch_refused').execute();
    expect(refusals.length).toBeGreaterThanOrEqual(3);
  });
});

/** The dispatcher is the one place that turns a tool's "cannot know" into the action's recorded state. */
describe('the dispatcher records what a tool could not know', () => {
  let h: Harness;
  let actionId: string;
  let calls: number;
  let outcome: () => Promise<{ content: string }>;

  beforeEach(async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Q2', body: 'Hello' } }]), textReply('done'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    actionId = card!.actionId;
    calls = 0;
    const a = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    await h.app.db.updateTable('actions').set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash }).where('id', '=', actionId).execute();
    // Leased to another instance: the harness's app leaves the run to the dispatcher under test.
    await h.app.db.updateTable('runs').set({ status: 'running', lease_owner: 'i-test', lease_expires_at: '2999-01-01T00:00:00.000Z' }).execute();
  });
  afterEach(async () => {
    await h.close();
  });

  function dispatcher(): Dispatcher {
    const registry = new ToolRegistry().register({
      name: 'send_email',
      description: 'test double whose outcome the test decides',
      hardFloor: true,
      inputSchema: z.object({ to: z.string(), subject: z.string(), body: z.string() }),
      describe: (i) => ({ summary: `send to ${i.to}` }),
      run: async () => {
        calls += 1;
        return outcome();
      },
    });
    return new Dispatcher({ db: h.app.db, registry, clock: { now: () => new Date() }, logger: pino({ level: 'silent' }), queue: { warnAt: 100, stopAt: 500 } });
  }

  it('OutcomeUnknownError: status outcome_unknown (not failed), a result telling the model not to repeat it, an activity row, and no second run', async () => {
    outcome = () => Promise.reject(new OutcomeUnknownError('email_outcome_unknown', 'the connection to the mail server was lost after the whole message had been sent to it'));
    const d = dispatcher();
    const res = await d.dispatch(actionId);
    expect(res.unknown).toEqual({ code: 'email_outcome_unknown', reason: 'the connection to the mail server was lost after the whole message had been sent to it' });
    expect(res.action.status).toBe('outcome_unknown');
    expect(res.result).toEqual({
      is_error: true,
      content:
        'Outcome unknown: the connection to the mail server was lost after the whole message had been sent to it, so it may or may not have happened. ' +
        'It will not be retried automatically; a person has been asked to check. Do not repeat it unless they confirm.',
    });
    const stored = await h.app.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    expect(JSON.parse(stored.result_json!)).toEqual(res.result);
    expect(stored.dispatched_at).not.toBeNull();
    const rows = await h.app.db.selectFrom('activity').selectAll().where('action_id', '=', actionId).where('kind', 'in', ['action_outcome_unknown', 'action_failed', 'action_dispatched']).execute();
    expect(rows.map((r) => [r.kind, JSON.parse(r.detail_json)])).toEqual([
      ['action_outcome_unknown', { tool: 'send_email', code: 'email_outcome_unknown', reason: 'the connection to the mail server was lost after the whole message had been sent to it' }],
    ]);
    await expect(d.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(calls).toBe(1);
  });

  it('ToolError: still failed, with the tool\'s own words', async () => {
    outcome = () => Promise.reject(new ToolError('email_failed', 'Email not sent: the mail server rejected the message.'));
    const res = await dispatcher().dispatch(actionId);
    expect(res.unknown).toBeUndefined();
    expect(res.action.status).toBe('failed');
    expect(res.result).toEqual({ is_error: true, content: 'Email not sent: the mail server rejected the message.' });
  });
});

describe('no code path other than the dispatcher runs a tool', () => {
  it("only src/agent/dispatcher.ts calls a tool's run()", () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('dispatcher.ts')) {
          const src = readFileSync(p, 'utf8');
          // A tool definition's run is reached through the registry (`.get(...)`) or a definition variable.
          if (/\btool\.run\(|\.get\([^)]*\)\??\.run\(|registry[\s\S]{0,40}\.run\(/.test(src)) offenders.push(p);
        }
      }
    };
    walk(new URL('../../src', import.meta.url).pathname);
    expect(offenders).toEqual([]);
    expect(readFileSync(new URL('../../src/agent/dispatcher.ts', import.meta.url), 'utf8')).toContain('tool.run(');
  });
});
