import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { pino } from 'pino';
import { Dispatcher } from '../../src/agent/dispatcher.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const SECOND = 'U0SECOND';

/**
 * Two-person approval is enforced by the dispatcher itself, from the recorded approvals: an action marked
 * approved is still refused unless distinct people other than the requester approved this exact call.
 */
describe('the dispatcher enforces N distinct approvers', () => {
  let h: Harness;
  let actionId: string;
  let hash: string;
  let dispatcher: Dispatcher;
  let sent: unknown[];

  beforeEach(async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    await h.command('trust send_email approvals 2', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Q2', body: 'Hello' } }]), textReply('done'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    await h.waitForRun((r) => r.status === 'awaiting_approval');
    actionId = card!.actionId;
    hash = (await h.app.db.selectFrom('actions').select('input_hash').where('id', '=', actionId).executeTakeFirstOrThrow()).input_hash;
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

  // Marked approved as the last approver would leave it, and leased away from the harness's app so its
  // sweep does not advance the run behind the test's back.
  const markApproved = async (by: string) => {
    await h.app.db.updateTable('runs').set({ status: 'running', lease_owner: 'i-test', lease_expires_at: '2999-01-01T00:00:00.000Z' }).execute();
    await h.app.db.updateTable('actions').set({ status: 'approved', decided_by: by, decided_at: new Date().toISOString(), approved_hash: hash }).where('id', '=', actionId).execute();
  };
  const approval = (user: string, inputHash = hash) => h.app.db.insertInto('action_approvals').values({ action_id: actionId, user_id: user, input_hash: inputHash, at: new Date().toISOString() }).execute();

  it('refuses one approval of two', async () => {
    await approval(APPROVER);
    await markApproved(APPROVER);
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it('refuses the same person approving twice (stored once: the key refuses a duplicate)', async () => {
    await approval(APPROVER);
    await expect(approval(APPROVER)).rejects.toThrow();
    await markApproved(APPROVER);
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it("does not count the requester's approval", async () => {
    await approval(REQUESTER);
    await approval(APPROVER);
    await markApproved(APPROVER);
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it('does not count an approval of another version of the call (before an edit)', async () => {
    await approval(APPROVER, 'some-older-hash');
    await approval(SECOND);
    await markApproved(SECOND);
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it('does not weaken when the rule is lowered after the card started waiting', async () => {
    await h.command('trust send_email approvals 1', { userId: ADMIN });
    await approval(APPROVER);
    await markApproved(APPROVER);
    await expect(dispatcher.dispatch(actionId)).rejects.toMatchObject({ code: 'approval_missing' });
    expect(sent).toHaveLength(0);
  });

  it('a rule raised after the call was approved applies to waiting cards, not to this call', async () => {
    await approval(APPROVER);
    await approval(SECOND);
    await markApproved(SECOND);
    await h.command('trust send_email approvals 3', { userId: ADMIN });
    const done = await dispatcher.dispatch(actionId);
    expect(done.result.content).toBe('sent');
    expect(sent).toHaveLength(1);
  });

  it('dispatches with two distinct non-requester approvals of this exact call', async () => {
    await approval(APPROVER);
    await approval(SECOND);
    await markApproved(SECOND);
    const done = await dispatcher.dispatch(actionId);
    expect(done.result.content).toBe('sent');
    expect(sent).toHaveLength(1);
  });
});
