import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const BACKUP = 'U0BACKUP';
/** A named approver (the harness's U_APPROVER has an underscore, which a slash command's mention never has). */
const APPROVER = 'U0APPR';
const OPS = 'S0OPS';
const MIN = 60_000;
const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };
const text = (r: { json?: unknown }) => JSON.stringify(r.json);

/** The app's business clock, moved forward by the tests (timers read it; Slack pacing does not). */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => void (offset += ms) };
}

describe('approval expiry, reminders and escalation (durable timers on the injected clock)', () => {
  let h: Harness;
  let clock: ReturnType<typeof movableClock>;
  beforeEach(async () => {
    clock = movableClock();
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN }, overrides: { clock } });
    h.slack.addUser({ id: ADMIN, name: 'ada', real_name: 'Ada Admin', email: 'ada@acme.com' });
    h.slack.addUser({ id: APPROVER, name: 'bob', real_name: 'Bob Approver', email: 'bob@acme.com' });
    h.slack.addUser({ id: BACKUP, name: 'bo', real_name: 'Bo Backup', email: 'bo@acme.com' });
    h.slack.addUserGroup(OPS, [BACKUP]);
  });
  afterEach(async () => {
    await h.close();
  });

  const cardBlocks = (card: { channel: string; ts: string }) => JSON.stringify(h.slack.message(card.channel, card.ts)!.blocks);
  const dms = (user: string) => h.slack.channelMessages(h.slack.dmChannel(user)).map((m) => m.text ?? '');
  const activity = (kind: string) => h.database.open().db.selectFrom('activity').selectAll().where('kind', '=', kind).execute();

  it('admins set and clear the rules; malformed commands change nothing; the listing and the log show them', async () => {
    expect(text(await h.command('trust send_email expire 4h', { userId: REQUESTER }))).toContain('Only admins');
    for (const bad of ['trust send_email expire', 'trust send_email expire soon', 'trust send_email expire 10s', 'trust send_email expire 31d', 'trust send_email remind', 'trust send_email remind 30m escalate', 'trust send_email remind 30m to @x', 'trust send_email remind 30m escalate #general']) {
      expect(text(await h.command(bad, { userId: ADMIN })), bad).toContain('Usage: `/agent trust &lt;action&gt; approvals');
    }
    expect(await h.database.open().db.selectFrom('approval_rules').selectAll().execute()).toEqual([]);

    expect(text(await h.command('trust send_email expire 4h', { userId: ADMIN }))).toContain('expire after *4h*');
    expect(text(await h.command(`trust send_email remind 1h30m escalate <!subteam^${OPS}|@ops-leads> <@${BACKUP}>`, { userId: ADMIN }))).toContain('waits *1h 30m*');
    const listing = text(await h.command('trust'));
    expect(listing).toContain(`approval rule: reminder after 1h 30m, then <!subteam^${OPS}> <@${BACKUP}> may approve too; expires after 4h`);

    await h.command('trust send_email expire off', { userId: ADMIN });
    await h.command('trust send_email remind off', { userId: ADMIN });
    expect(text(await h.command('trust'))).not.toContain('approval rule:');
    const changes = await activity('approval_rule_changed');
    expect(changes.map((c) => JSON.parse(c.detail_json).field)).toEqual(['expire', 'remind', 'expire', 'remind']);
    expect(JSON.parse(changes[1]!.detail_json).after).toMatchObject({ remindAfterS: 5400, escalate: { users: [BACKUP], groups: [OPS] } });
  });

  it('an expired card is closed, nothing is sent, the run ends as rejected with "expired", a late click is refused', async () => {
    await h.command('trust send_email expire 4h', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }], { text: 'Sending.' }), textReply('never'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.waitForRun((r) => r.status === 'awaiting_approval');

    clock.advance(4 * 60 * MIN - MIN);
    expect((await h.app.tickApprovalTimers()).expired).toEqual([]);
    expect((await h.onlyRun()).status).toBe('awaiting_approval');

    clock.advance(2 * MIN);
    // Fired by the app's own timer task (no direct tick).
    const run = await h.waitForRun((r) => r.status === 'cancelled');
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes('expired')), 'expiry line in the thread');
    await h.delivered();
    const thread = h.threadTexts(run).join('\n');
    expect(thread).toContain('The approval request for "Send email to sarah@acme.com, subject \'Q2\'" expired: nobody decided within 4h. Nothing was done. The run is cancelled.');
    const blocks = cardBlocks(card!);
    expect(blocks).not.toContain('approval_approve');
    expect(blocks).toContain('*Expired*');

    const action = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(action).toMatchObject({ status: 'rejected', decision_note: 'expired' });
    expect(JSON.parse(action.result_json!)).toEqual({ content: 'Rejected: expired. Nobody approved or rejected it within 4h, so it was not done.', is_error: true });
    expect(run.error_code).toBe('rejected');

    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('This approval request expired')), 'late click refused');
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(0);
    expect(h.claude.requests).toHaveLength(1);
    expect(await activity('approval_expired')).toHaveLength(1);
    expect(text(await h.command(`log ${run.id}`))).toContain('approval expired');

    // A rerun tells the model what happened, without naming anyone as the rejecter.
    await h.command(`rerun ${run.id}`);
    await waitUntil(() => h.claude.requests.length >= 2 || undefined, 'the rerun to call the model');
    const told = JSON.stringify(h.claude.requests[1]!.body);
    expect(told).toContain('nobody decided before the approval request expired');
    expect(told).not.toContain('<@expiry>');
  });

  it('a reminder DMs the approvers; the escalation lets the backup group approve and tells them; each fires once', async () => {
    expect(text(await h.command(`trust send_email approvers <@${APPROVER}>`, { userId: ADMIN }))).toContain('may now approve');
    await h.command(`trust send_email remind 30m escalate <!subteam^${OPS}|@ops-leads>`, { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.waitForRun((r) => r.status === 'awaiting_approval');

    // Before the escalation the backup may not decide.
    await h.click(card!, 'approve', BACKUP);
    await waitUntil(() => h.slack.ephemerals(BACKUP).find((e) => e.text.includes(`Only <@${APPROVER}> may approve`)), 'backup refused before escalation');

    clock.advance(31 * MIN);
    await waitUntil(() => dms(APPROVER).find((t) => t.includes('Reminder')), 'reminder DM to the approver');
    await waitUntil(() => dms(BACKUP).find((t) => t.includes('backup approver')), 'escalation DM to the backup group member');
    const run = await h.onlyRun();
    await waitUntil(() => h.threadTexts(run).find((t) => t.includes(`<!subteam^${OPS}> may now approve or reject it too`)), 'escalation line in the thread');
    expect(dms(APPROVER).find((t) => t.includes('Reminder'))).toContain(`run \`${run.id}\`, requested by <@${REQUESTER}>`);
    await h.delivered();
    expect(cardBlocks(card!)).toContain(`Waiting for a decision from <!subteam^${OPS}> <@${APPROVER}>`);

    // Later passes do not fire it again.
    clock.advance(60 * MIN);
    expect(await h.app.tickApprovalTimers()).toEqual({ reminded: [], expired: [] });
    expect(await activity('approval_reminded')).toHaveLength(1);
    expect(await activity('approval_escalated')).toHaveLength(1);

    await h.click(card!, 'approve', BACKUP);
    await h.waitForRun((r) => r.status === 'completed');
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(1);
    await h.delivered();
    expect(dms(APPROVER).filter((t) => t.includes('Reminder'))).toHaveLength(1);
    expect(dms(BACKUP).filter((t) => t.includes('backup approver'))).toHaveLength(1);
  });

  it('survives a restart: a new app on the same database fires the due expiry once', async () => {
    await h.command('trust send_email expire 1h', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('never'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    await h.waitForRun((r) => r.status === 'awaiting_approval');
    await h.stopApp();
    clock.advance(2 * 60 * MIN);
    await h.restart();
    const run = await h.waitForRun((r) => r.status === 'cancelled');
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes('expired')), 'expiry line after the restart');
    await h.delivered();
    expect(cardBlocks(card!)).toContain('*Expired*');
    expect(await activity('approval_expired')).toHaveLength(1);
    expect(h.threadTexts(run).filter((t) => t.includes('The approval request for'))).toHaveLength(1);
    expect(h.smtp.mails).toHaveLength(0);
  });

  it('two instances racing on the same due reminder fire it once', { timeout: 90_000 }, async () => {
    expect(text(await h.command(`trust send_email approvers <@${APPROVER}>`, { userId: ADMIN }))).toContain('may now approve');
    await h.command('trust send_email remind 10m', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah');
    await h.waitForCards(1);
    await h.waitForRun((r) => r.status === 'awaiting_approval');
    const other = await h.addApp();
    const at = new Date(clock.now().getTime() + 11 * MIN);
    const results = await Promise.all([h.app.tickApprovalTimers(at), other.tickApprovalTimers(at), h.app.tickApprovalTimers(at), other.tickApprovalTimers(at)]);
    expect(results.flatMap((r) => r.reminded)).toHaveLength(1);
    clock.advance(11 * MIN);
    await waitUntil(() => dms(APPROVER).find((t) => t.includes('Reminder')), 'reminder DM');
    await h.delivered();
    expect(dms(APPROVER).filter((t) => t.includes('Reminder'))).toHaveLength(1);
    expect(await activity('approval_reminded')).toHaveLength(1);
  });
});
