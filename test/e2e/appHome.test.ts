import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import type { FakeSlackView } from '../helpers/fakeSlack.js';
import { appHomeOpenedEvent, homeBlockAction } from '../helpers/slackRequests.js';
import { Outbox } from '../../src/agent/outbox.js';
import { systemClock } from '../../src/clock.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, TASK_CHANNEL, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const CAROL = 'U0CAROL';
const SECRET = 'C_SECRET';
const email = (n: number) => ({ to: `client${n}@acme.com`, subject: `Invoice ${n}`, body: `Hi,\n\nInvoice number ${n} is attached.` });

type Block = { type: string; block_id?: string; text?: { text?: string }; elements?: Array<{ action_id?: string; value?: string; url?: string; options?: Array<{ value: string }>; initial_options?: Array<{ value: string }> }> };

function boot(env: Record<string, string> = {}): Promise<Harness> {
  return startHarness({ env: { ADMIN_USER_IDS: ADMIN, ...env }, overrides: { outbox: { home: { delayMs: 50 } } } });
}

async function openHome(h: Harness, user: string): Promise<void> {
  await h.event(appHomeOpenedEvent({ user }));
}

/** The Home view Slack shows this user now, once it satisfies `ok`. */
function homeWhen(h: Harness, user: string, ok: (text: string, view: FakeSlackView) => boolean, what: string): Promise<FakeSlackView> {
  return waitUntil(() => {
    const v = h.slack.homeView(user);
    return v && ok(JSON.stringify(v.blocks), v) ? v : undefined;
  }, what);
}

/** The actions listed in a Home view, in order (the value of their Approve buttons). */
function listed(view: FakeSlackView): string[] {
  // An Approve carries `<action id>|<hash of the call shown>`.
  return (view.blocks as Block[]).flatMap((b) => (b.elements ?? []).filter((e) => e.action_id === 'home_approve').map((e) => e.value!.split('|')[0]!));
}

function click(h: Harness, view: FakeSlackView, actionId: string, userId: string, o: { value?: string; userTeam?: string; selected?: Record<string, Record<string, string[]>> } = {}) {
  // The view as it was when the person clicked: a stale one keeps its old blocks.
  return homeBlockAction(h.baseUrl, SIGNING_SECRET, { actionId, userId, view: { id: view.id, hash: view.hash, blocks: view.blocks }, ...o });
}

describe('App Home: Waiting for you', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('lists only what the viewer may see and decide: their channels (conversations.members), their own runs, everything for admins', async () => {
    h = await boot();
    h.slack.addUser({ id: ADMIN, name: 'ada', real_name: 'Ada Admin' });
    h.slack.addUser({ id: CAROL, name: 'carol', real_name: 'Carol Outside' });
    h.slack.setChannel(TASK_CHANNEL, { members: [REQUESTER, APPROVER, ADMIN] });
    h.slack.setChannel(SECRET, { members: [REQUESTER, CAROL], is_private: true });
    // Both runs stop at their card (the fake model answers in order, so each gets its own call).
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email(1) }]));
    await h.command('run send invoice 1');
    const [inTasks] = await h.waitForCards(1);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email(2) }]));
    await h.command('run send invoice 2', { channelId: SECRET });
    const cards = await h.waitForCards(2);
    const inSecret = cards.find((c) => c.channel === SECRET)!;
    await h.delivered();

    for (const u of [APPROVER, CAROL, ADMIN, REQUESTER]) await openHome(h, u);
    const approverHome = await homeWhen(h, APPROVER, (t) => t.includes('Your runs'), "the approver's Home");
    expect(listed(approverHome)).toEqual([inTasks!.actionId]);
    const carolHome = await homeWhen(h, CAROL, (t) => t.includes('Your runs'), "Carol's Home");
    expect(listed(carolHome)).toEqual([inSecret.actionId]);
    const adminHome = await homeWhen(h, ADMIN, (t) => t.includes('Approval queue'), "the admin's Home");
    expect(listed(adminHome)).toEqual([inTasks!.actionId, inSecret.actionId]);
    expect(JSON.stringify(adminHome.blocks)).toContain('*2* actions waiting in this workspace');
    // The requester sees both (their runs; self-approval is on) and their runs with their state.
    const requesterHome = await homeWhen(h, REQUESTER, (t) => t.includes('Your runs'), "the requester's Home");
    expect(listed(requesterHome)).toEqual([inTasks!.actionId, inSecret.actionId]);
    expect(JSON.stringify(requesterHome.blocks)).toContain('waiting for approval');
    expect(JSON.stringify(approverHome.blocks)).not.toContain('Approval queue');

    // Each item has what/who/when/spend, and a link to its card.
    const item = JSON.stringify(approverHome.blocks);
    expect(item).toContain('Invoice 1');
    expect(item).toContain(`<@${REQUESTER}>`);
    expect(item).toContain('run spend $');
    const link = (approverHome.blocks as Block[]).flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'home_open_card')?.url;
    expect(link).toBe(`https://fake.slack.test/archives/${inTasks!.channel}/p${inTasks!.ts.replace('.', '')}?thread_ts=${inTasks!.message.thread_ts}&cid=${inTasks!.channel}`);
    expect(h.slack.callsTo('conversations.members').length).toBeGreaterThan(0);
  });

  it('a Home button is no way around the rules: non-approvers, another organisation and late clicks change nothing', async () => {
    h = await boot();
    h.slack.addUser({ id: ADMIN, name: 'ada', real_name: 'Ada Admin' });
    h.slack.setChannel(TASK_CHANNEL, { members: [REQUESTER, APPROVER, ADMIN] });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email(1) }]), textReply('Sent.'));
    await h.command('run send invoice 1');
    const [card] = await h.waitForCards(1);
    await openHome(h, APPROVER);
    const stale = await homeWhen(h, APPROVER, (t) => t.includes('home_approve'), 'the approval in the Home tab');

    // Someone who is not in the run's channel replays a Home Approve (a view older than their membership):
    // the click is checked against who may see the run again, and refused.
    h.slack.addUser({ id: CAROL, name: 'carol', real_name: 'Carol Outside' });
    await click(h, stale, 'home_approve', CAROL, { value: card!.actionId });
    await homeWhen(h, CAROL, (t) => t.includes('can no longer see the run'), "the refusal on Carol's Home");
    expect((await h.app.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirstOrThrow()).status).toBe('pending');

    // An admin names approvers: the approver's Home no longer lists it, and their stale Approve is refused.
    await h.command(`trust send_email approvers <@${ADMIN}|ada>`, { userId: ADMIN });
    await click(h, stale, 'home_approve', APPROVER, { value: card!.actionId });
    const refused = await homeWhen(h, APPROVER, (t) => t.includes(`Only <@${ADMIN}> may approve`), 'the refusal at the top of the Home tab');
    expect(listed(refused)).toEqual([]);
    const action = () => h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect((await action()).status).toBe('pending');

    // Someone of another organisation (a Slack Connect click) is refused too, even as a named approver.
    await openHome(h, ADMIN);
    const adminView = await homeWhen(h, ADMIN, (t) => t.includes('home_approve'), "the admin's Home");
    await click(h, adminView, 'home_approve', ADMIN, { value: card!.actionId, userTeam: 'T_OTHER_ORG' });
    await homeWhen(h, ADMIN, (t) => t.includes('another organisation'), 'the organisation refusal');
    expect((await action()).status).toBe('pending');
    const refusals = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'decision_refused').execute();
    expect(refusals).toHaveLength(2);

    // The named approver decides from their Home; the same path as the card: stored, sent once.
    await click(h, adminView, 'home_approve', ADMIN, { value: card!.actionId });
    expect((await action()).decided_by).toBe(ADMIN);
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
    // A late click from the same stale view: told who decided, nothing sent again.
    await click(h, adminView, 'home_approve', ADMIN, { value: card!.actionId });
    await homeWhen(h, ADMIN, (t) => t.includes('already approved by'), 'the late-click answer');
    await h.delivered();
    expect(h.smtp.mails).toHaveLength(1);
    expect(JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks)).toContain(`*Approved* by <@${ADMIN}>`);
  });

  it('"Approve selected" records one approval per action, each sent exactly once; one decided meanwhile is skipped and reported', async () => {
    h = await boot();
    h.slack.setChannel(TASK_CHANNEL, { members: [REQUESTER, APPROVER] });
    h.claude.enqueue(toolUseReply([1, 2, 3].map((n) => ({ name: 'send_email', input: email(n) }))), textReply('All sent.'));
    await h.command('run send the three invoices');
    const cards = await h.waitForCards(3);
    await h.delivered();
    await openHome(h, APPROVER);
    const shown = await homeWhen(h, APPROVER, (t) => t.includes('home_approve_selected'), 'the batch group');
    await h.delivered();
    const group = (shown.blocks as Block[]).find((b) => b.block_id === 'home_batch:send_email')!;
    const options = group.elements!.find((e) => e.action_id === 'home_select')!.options!.map((o) => o.value);
    expect(options.map((o) => o.split('|')[0]).sort()).toEqual(cards.map((c) => c.actionId).sort());
    // Ticking the boxes relabels the button with how many are ticked, keeping the ticks.
    await click(h, shown, 'home_select', APPROVER, { selected: { 'home_batch:send_email': { home_select: options } } });
    const view = await homeWhen(h, APPROVER, (t) => t.includes('Approve 3 selected'), 'the relabelled button');
    const ticked = (view.blocks as Block[]).find((b) => b.block_id === 'home_batch:send_email')!;
    expect(ticked.elements!.find((e) => e.initial_options)!.initial_options!.map((o) => o.value)).toEqual(options);

    // Someone approves one on its card meanwhile; the Home view ticked all three is now stale.
    const first = cards[0]!;
    h.slack.addUser({ id: 'U0DAVE', name: 'dave', real_name: 'Dave' });
    await h.click(first, 'approve', 'U0DAVE');
    await click(h, view, 'home_approve_selected', APPROVER, { value: 'send_email', selected: { 'home_batch:send_email': { home_select: options } } });

    const actions = await h.app.db.selectFrom('actions').selectAll().where('tool', '=', 'send_email').execute();
    expect(actions.map((a) => a.decided_by).sort()).toEqual([APPROVER, APPROVER, 'U0DAVE'].sort());
    const approvals = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'approved').execute();
    expect(approvals).toHaveLength(3);
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(h.smtp.mails.map((m) => m.headers.subject).sort()).toEqual(['Invoice 1', 'Invoice 2', 'Invoice 3']);
    const after = await homeWhen(h, APPROVER, (t) => t.includes('Approved 2 of 3 selected'), 'the batch report');
    const text = JSON.stringify(after.blocks);
    expect(text).toContain(`${first.actionId}\` skipped`);
    expect(text).toContain('already approved by <@U0DAVE>');
    expect(listed(after)).toEqual([]);
  });

  it('when Slack cannot list a channel\'s members, its runs are not shown to non-requesters (seeing needs proof)', async () => {
    h = await boot();
    h.slack.setChannel(TASK_CHANNEL, { members: [REQUESTER, APPROVER] });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email(1) }]));
    await h.command('run send invoice 1');
    await h.waitForCards(1);
    await h.delivered();
    h.slack.failNext('conversations.members', { error: 'internal_error' });
    await openHome(h, APPROVER);
    await homeWhen(h, APPROVER, (t) => t.includes('Nothing is waiting for your decision'), 'an empty list');
    expect(h.slack.calls.filter((c) => c.method === 'conversations.members' && !c.ok)).toHaveLength(1);
  });

  it('a decision elsewhere updates the Home tab, through the outbox, only for people who opened it', async () => {
    h = await boot();
    h.slack.setChannel(TASK_CHANNEL, { members: [REQUESTER, APPROVER] });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email(1) }]), textReply('Sent.'));
    await h.command('run send invoice 1');
    const [card] = await h.waitForCards(1);
    await openHome(h, APPROVER);
    await homeWhen(h, APPROVER, (t) => t.includes('Invoice 1'), 'the approval in the Home tab');
    // Slack limits views.publish: a 429 is waited out, and the Home still ends up current.
    h.slack.failNext('views.publish', { status: 429, retryAfter: 1 });
    await h.click(card!, 'approve', REQUESTER);
    await h.waitForRun((r) => r.status === 'completed');
    await homeWhen(h, APPROVER, (t) => t.includes('Nothing is waiting for your decision'), 'the Home tab without the decided card');
    await h.delivered();
    expect(h.slack.rateStats().ratelimited['views.publish']).toBe(1);
    // The requester never opened their Home: nothing is published for them.
    expect(h.slack.callsTo('views.publish').filter((a) => a['user_id'] === REQUESTER)).toHaveLength(0);
    const rows = await h.app.db.selectFrom('slack_outbox').selectAll().where('op', '=', 'home').execute();
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    // A burst of changes makes one publish per recent viewer: later changes fold into the waiting one.
    const outbox = new Outbox(systemClock, { progressDelayMs: 0, settleMs: 0, home: { delayMs: 60_000 } });
    h.slack.addUser({ id: CAROL, name: 'carol', real_name: 'Carol' });
    await openHome(h, CAROL);
    await homeWhen(h, CAROL, (t) => t.includes('Your runs'), "Carol's Home");
    await h.delivered();
    for (let i = 0; i < 20; i++) await outbox.refreshHomes(h.app.db, 'T_TEST');
    const waiting = await h.app.db.selectFrom('slack_outbox').selectAll().where('op', '=', 'home').where('status', '=', 'queued').execute();
    expect(waiting.map((r) => r.channel).sort()).toEqual([APPROVER, CAROL].sort());
  });

  it('Reject and Edit from the Home tab open the card\'s own dialogs, and their decisions take the card\'s path', async () => {
    h = await boot();
    h.slack.setChannel(TASK_CHANNEL, { members: [REQUESTER, APPROVER] });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email(1) }]), textReply('Sent.'));
    await h.command('run send invoice 1');
    const [card] = await h.waitForCards(1);
    await openHome(h, APPROVER);
    const view = await homeWhen(h, APPROVER, (t) => t.includes('home_edit'), 'the Edit button');
    await click(h, view, 'home_edit', APPROVER, { value: card!.actionId });
    const edit = await waitUntil(() => h.slack.callsTo('views.open').at(-1), 'the edit dialog');
    expect((edit['view'] as { callback_id: string }).callback_id).toBe('approval_edit_submit');
    await click(h, view, 'home_reject', APPROVER, { value: card!.actionId });
    await waitUntil(() => h.slack.callsTo('views.open').length === 2, 'the reject dialog');
    expect((h.slack.callsTo('views.open')[1]!['view'] as { callback_id: string }).callback_id).toBe('approval_reject_note');
    await h.submitReject(card!.actionId, 'wrong client', APPROVER);
    const run = await h.waitForRun((r) => r.status === 'cancelled');
    expect(run.error_code).toBe('rejected');
    await homeWhen(h, APPROVER, (t) => t.includes('Nothing is waiting for your decision'), 'the Home tab after the rejection');
    expect(h.smtp.mails).toHaveLength(0);
  });
});
