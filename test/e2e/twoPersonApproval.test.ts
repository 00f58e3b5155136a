import { finalText } from '../helpers/finalAnswer.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { viewSubmission } from '../helpers/slackRequests.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const SECOND = 'U0SECOND';
const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };
const text = (r: { json?: unknown }) => JSON.stringify(r.json);

describe('two-person approval (`/agent trust <action> approvals <n>`)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    h.slack.addUser({ id: ADMIN, name: 'ada', real_name: 'Ada Admin', email: 'ada@acme.com' });
    h.slack.addUser({ id: SECOND, name: 'sam', real_name: 'Sam Second', email: 'sam@acme.com' });
  });
  afterEach(async () => {
    await h.close();
  });

  const cardBlocks = (card: { channel: string; ts: string }) => JSON.stringify(h.slack.message(card.channel, card.ts)!.blocks);

  it('admins only, validated, listed and logged', async () => {
    const denied = await h.command('trust send_email approvals 2', { userId: REQUESTER });
    expect(text(denied)).toContain('Only admins');
    for (const bad of ['trust send_email approvals 0', 'trust send_email approvals 6', 'trust send_email approvals two', 'trust send_email approvals', 'trust send_email approvals 2 3']) {
      const res = await h.command(bad, { userId: ADMIN });
      expect(text(res), bad).toContain('Usage: `/agent trust &lt;action&gt; approvals &lt;1-5&gt;`');
    }
    expect(text(await h.command('trust nosuch_tool approvals 2', { userId: ADMIN }))).toContain('is not an action type');
    expect(await h.database.open().db.selectFrom('approval_rules').selectAll().execute()).toEqual([]);

    const ok = await h.command('trust send_email approvals 2', { userId: ADMIN });
    expect(text(ok)).toContain('2 different approvers');
    expect(text(await h.command('trust'))).toContain('approval rule: 2 approvers');
    const activity = await h.database.open().db.selectFrom('activity').selectAll().where('kind', '=', 'approval_rule_changed').execute();
    expect(activity).toHaveLength(1);
    expect(activity[0]!.actor).toBe(ADMIN);
    expect(JSON.parse(activity[0]!.detail_json)).toMatchObject({ actionType: 'send_email', before: { approvals: 1 }, after: { approvals: 2 } });
  });

  it('needs two distinct people other than the requester; the card counts them; one mail after the 2nd approval', async () => {
    await h.command('trust send_email approvals 2', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }], { text: 'Sending.' }), textReply('Sent.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    expect(cardBlocks(card!)).toContain('0 of 2 approvals');
    // Approve & remember is one person's decision: not offered.
    expect(cardBlocks(card!)).not.toContain('approval_approve_remember');

    // The requester never counts, even with self-approval on (the default).
    await h.click(card!, 'approve', REQUESTER);
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('your approval cannot count')), 'requester refused');

    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('1 of 2')), 'first approval counted');
    await h.delivered();
    expect(cardBlocks(card!)).toContain(`1 of 2 approvals* — approved by <@${APPROVER}>`);
    expect(cardBlocks(card!)).toContain('approval_approve');

    // The same person twice counts once.
    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('You already approved this')), 'second click refused');
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(0);
    expect((await h.onlyRun()).status).toBe('awaiting_approval');

    await h.click(card!, 'approve', SECOND);
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(1);
    await h.delivered();
    const final = cardBlocks(card!);
    expect(final).not.toContain('approval_approve');
    expect(final).toContain(`*Approved* by <@${APPROVER}> and <@${SECOND}>`);
    expect(h.threadTexts(run)).toContain(finalText('Sent.', run.requester_id));

    const rows = await h.database.open().db.selectFrom('action_approvals').selectAll().execute();
    expect(rows.map((r) => r.user_id).sort()).toEqual([APPROVER, SECOND].sort());
  });

  it('a rejection after one approval cancels the run; nothing is sent', async () => {
    await h.command('trust send_email approvals 2', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('never'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('1 of 2')), 'first approval counted');
    await h.click(card!, 'reject', SECOND);
    await h.slack.waitFor('views.open');
    await h.submitReject(card!.actionId, 'Not yet', SECOND);
    const run = await h.waitForRun((r) => r.status === 'cancelled');
    await h.app.engine.idle();
    await h.delivered();
    expect(h.smtp.mails).toHaveLength(0);
    expect(h.claude.requests).toHaveLength(1);
    expect(cardBlocks(card!)).toContain(`Rejected* by <@${SECOND}>`);
    expect(h.threadTexts(run).join('\n')).toContain(`<@${SECOND}> rejected`);
  });

  it('hard-floor tools too; with approvals 1 again a single approval sends', async () => {
    await h.command('trust send_email approvals 3', { userId: ADMIN });
    await h.command('trust send_email approvals 1', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    expect(cardBlocks(card!)).not.toContain('of 3 approvals');
    await h.click(card!, 'approve', APPROVER);
    await h.waitForRun((r) => r.status === 'completed');
    expect(h.smtp.mails).toHaveLength(1);
  });

  it('Edit & approve counts as one approval of the edited call; approvals of the old version no longer count', async () => {
    await h.command('trust send_email approvals 2', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('1 of 2')), 'first approval counted');

    // The requester may not edit-and-approve either.
    await h.click(card!, 'edit', REQUESTER);
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('your approval cannot count')), 'requester refused the Edit dialog');

    const opened = h.slack.callsTo('views.open').length;
    await h.click(card!, 'edit', SECOND);
    await waitUntil(() => h.slack.callsTo('views.open').length > opened, 'the edit dialog');
    const view = h.slack.callsTo('views.open').at(-1)!['view'] as { callback_id: string; private_metadata: string; blocks: Array<{ block_id?: string; element?: { initial_value?: string } }> };
    const values = Object.fromEntries(view.blocks.filter((b) => b.element).map((b) => [b.block_id!, b.element!.initial_value ?? '']));
    values['subject'] = 'Q2 numbers';
    const submitted = await viewSubmission(h.baseUrl, SIGNING_SECRET, {
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: { type: 'plain_text_input', value: v } }])),
      userId: SECOND,
    });
    expect(submitted.json?.response_action).toBeUndefined();
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(0);
    await h.delivered();
    const edited = cardBlocks(card!);
    expect(edited).toContain(`1 of 2 approvals* — approved by <@${SECOND}>`);
    expect(edited).toContain('Q2 numbers');

    // The first approver saw the old version: they approve the edited one (it counts now).
    await h.click(card!, 'approve', APPROVER);
    const [mail] = await h.smtp.waitForMail(1);
    expect(mail!.headers.subject).toBe('Q2 numbers');
    await h.waitForRun((r) => r.status === 'completed');
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(1);
  });
});
