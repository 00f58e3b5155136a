import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const SLACK_ADMIN = 'U0OWNER';
const BOSS = 'U0BOSS';

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN, ...env } });
  h.slack.addUser({ id: ADMIN, name: 'ada', real_name: 'Ada Admin', email: 'ada@acme.com' });
  h.slack.addUser({ id: SLACK_ADMIN, name: 'owen', real_name: 'Owen Owner', email: 'owen@acme.com', is_owner: true });
  h.slack.addUser({ id: BOSS, name: 'boss', real_name: 'Bea Boss', email: 'bea@acme.com' });
  return h;
}

const text = (r: { json?: any }) => JSON.stringify(r.json);

describe('/agent trust and admin controls', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('anyone can read the trust table: action types, categories, modes and approvers', async () => {
    const res = await h.command('trust');
    expect(res.json.response_type).toBe('ephemeral');
    const t = text(res);
    expect(t).toContain('`send_email` (communicate)');
    expect(t).toContain('hard floor, always approval');
    expect(t).toContain('`search_knowledge_base` (read)');
    expect(t).toContain('full_auto');
    expect(t).toContain('approvers: anyone who sees the card');
  });

  it('admins change a mode (logged with before and after); non-admins are refused; bad arguments get usage', async () => {
    const denied = await h.command('trust fetch_url require_approval', { userId: REQUESTER });
    expect(denied.json.text).toContain('Only admins');
    const ok = await h.command('trust fetch_url require_approval', { userId: ADMIN });
    expect(ok.json.text).toContain('`fetch_url`: full_auto → *require_approval*');
    const viaSlackRole = await h.command('trust fetch_url auto_notify', { userId: SLACK_ADMIN });
    expect(viaSlackRole.json.text).toContain('require_approval → *auto_notify*');
    const log = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'trust_changed').orderBy('id').execute();
    expect(log.map((l) => [l.actor, JSON.parse(l.detail_json)])).toEqual([
      [ADMIN, { actionType: 'fetch_url', before: 'full_auto', after: 'require_approval' }],
      [SLACK_ADMIN, { actionType: 'fetch_url', before: 'require_approval', after: 'auto_notify' }],
    ]);
    for (const bad of ['trust fetch_url sometimes', 'trust nothing_like_this full_auto', 'trust self-approval maybe', 'trust route nowhere']) {
      const r = await h.command(bad, { userId: ADMIN });
      expect(r.json.text).toMatch(/Usage: `\/agent trust`|is not an action type/);
    }
  });

  it('lowering a hard-floor action is refused with an explanation, for admins too', async () => {
    for (const mode of ['auto_notify', 'full_auto']) {
      const r = await h.command(`trust send_email ${mode}`, { userId: ADMIN });
      expect(r.json.text).toContain('always requires approval');
    }
    expect(await h.app.db.selectFrom('trust_settings').selectAll().execute()).toHaveLength(0);
  });

  it('trust edit opens a modal for admins only', async () => {
    expect((await h.command('trust edit')).json.text).toContain('Only admins');
    await h.command('trust edit', { userId: ADMIN });
    const opened = await h.slack.waitFor('views.open');
    expect(JSON.stringify(opened['view'])).toContain('mode:fetch_url');
    expect(JSON.stringify(opened['view'])).not.toContain('mode:send_email');
  });

  it('pause forces a card even for a low-risk tool, the card says why, status shows it; unpause restores', async () => {
    expect((await h.command('pause incident review', { userId: REQUESTER })).json.text).toContain('Only admins');
    expect((await h.command('pause incident review', { userId: ADMIN })).json.text).toContain('paused');
    expect(text(await h.command('status'))).toContain('paused');

    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), textReply('Found it.'));
    await h.command('run find Q2');
    const [card] = await h.waitForCards(1);
    const cardText = JSON.stringify(card!.message.blocks);
    expect(cardText).toContain('Automation is paused: incident review');
    expect(await h.app.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirst()).toEqual({ status: 'pending' });

    await h.command('unpause', { userId: ADMIN });
    await h.click(card!, 'approve');
    await h.waitForRun((r) => r.status === 'completed');
    const kinds = (await h.app.db.selectFrom('activity').select('kind').execute()).map((r) => r.kind);
    expect(kinds).toContain('paused');
    expect(kinds).toContain('unpaused');
  });

  it('Approve & remember: refused for non-admins (card stays undecided), works for admins and lowers the mode to auto_notify', async () => {
    await h.command('trust fetch_url require_approval', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'fetch_url', input: { url: 'https://example.com/' } }]), textReply('ok'));
    await h.command('run read example.com');
    const [card] = await h.waitForCards(1);
    expect(JSON.stringify(card!.message.blocks)).toContain('Approve & remember');

    await h.click(card!, 'approve_remember', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('Only admins can use "Approve & remember"')), 'refusal');
    expect((await h.app.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirstOrThrow()).status).toBe('pending');

    await h.click(card!, 'approve_remember', ADMIN);
    await h.waitForRun((r) => r.status === 'completed');
    expect(text(await h.command('trust'))).toMatch(/`fetch_url` \(read\) — :bell: auto_notify/);
  });

  it('hard-floor cards do not offer Approve & remember, and a forged click is refused', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    expect(JSON.stringify(card!.message.blocks)).not.toContain('Approve & remember');
    await h.click(card!, 'approve_remember', ADMIN);
    await waitUntil(() => h.slack.ephemerals(ADMIN).find((e) => e.text.includes('cannot be remembered')), 'refusal');
    expect(h.smtp.dataAttempts()).toBe(0);
  });
});

describe('who may approve', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('an approver restriction refuses others privately (logged) and lets the named user or group member approve', async () => {
    h = await harness();
    h.slack.addUserGroup('S0LEADS', ['U0LEAD']);
    const set = await h.command(`trust send_email approvers <@${BOSS}|boss> <!subteam^S0LEADS|@leads>`, { userId: ADMIN });
    expect(set.json.text).toContain(`Only <@${BOSS}>, <!subteam^S0LEADS> may now approve`);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]), textReply('done'));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);

    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes(`Only <@${BOSS}>`)), 'private refusal');
    await h.click(card!, 'reject', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).filter((e) => e.text.includes(`Only <@${BOSS}>`)).length >= 2, 'reject refused too');
    expect(h.slack.callsTo('views.open')).toHaveLength(0);
    const refused = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'decision_refused').execute();
    expect(refused.map((r) => r.actor)).toEqual([APPROVER, APPROVER]);

    await h.click(card!, 'approve', 'U0LEAD');
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
    const action = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(action.decided_by).toBe('U0LEAD');

    await h.command('trust send_email approvers anyone', { userId: ADMIN });
    expect(text(await h.command('trust'))).toContain('approvers: anyone who sees the card');
  });

  it('self-approval off: the requester is refused, someone else may approve', async () => {
    h = await harness();
    await h.command('trust self-approval off', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]), textReply('done'));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'approve', REQUESTER);
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('Self-approval is turned off')), 'refusal');
    expect(h.smtp.dataAttempts()).toBe(0);
    await h.click(card!, 'approve', APPROVER);
    await h.smtp.waitForMail(1);
  });
});

describe('routing and queue thresholds', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('/agent trust route sends cards to a channel, and back to the thread', async () => {
    h = await harness();
    await h.command('trust route <#C0APPROVE|approvals>', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    expect(card!.channel).toBe('C0APPROVE');

    await h.command('trust route thread', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'b@acme.com', subject: 'B', body: 'B' } }]));
    await h.command('run email B');
    const cards = await h.waitForCards(2);
    expect(cards.some((c) => c.channel === 'C_TASKS' && c.message.thread_ts)).toBe(true);
  });

  it('a routed channel the app cannot post in falls back to the thread and says why', async () => {
    h = await harness();
    h.slack.setChannel('C0LOCKED', { is_member: false });
    await h.command('trust route <#C0LOCKED|locked>', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    expect(card!.channel).toBe('C_TASKS');
    const run = await h.onlyRun();
    await waitUntil(() => h.threadTexts(run).join('\n').includes('not_in_channel'), 'the fallback note');
  });

  it('warns on cards and status at the warn threshold; at the stop threshold the run ends and says why', async () => {
    h = await harness({ APPROVAL_QUEUE_WARN_AT: '1', APPROVAL_QUEUE_STOP_AT: '2' });
    const email = (to: string) => toolUseReply([{ name: 'send_email', input: { to, subject: 'x', body: 'x' } }]);
    h.claude.enqueue(email('a@acme.com'));
    await h.command('run email A');
    await h.waitForCards(1);
    h.claude.enqueue(email('b@acme.com'));
    await h.command('run email B');
    const cards = await h.waitForCards(2);
    expect(JSON.stringify(cards[1]!.message.blocks)).toContain('The approval queue is long');
    expect(text(await h.command('status'))).toContain('the approval queue is long');

    h.claude.enqueue(email('c@acme.com'));
    await h.command('run email C');
    const stopped = await h.waitForRun((r) => r.status === 'stopped');
    await waitUntil(() => h.threadTexts(stopped).some((t) => t.includes("I've stopped because approvals aren't being cleared; tell me when you're ready")), 'stop message');
    expect(h.cards()).toHaveLength(2);
  });
});

describe('auto_notify and Undo', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('runs at once, notifies the requester with exactly what was done, and Undo reverts it (logged)', async () => {
    h = await harness();
    await h.command('trust set_task_status auto_notify', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'set_task_status', input: { status: 'blocked' } }]), textReply('Marked blocked.'));
    await h.command('run mark this blocked');
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(run.task_status).toBe('blocked');
    const notice = await waitUntil(
      () => h.threadReplies(run).find((m) => m.text.includes('auto-notify')),
      'notification',
    );
    expect(notice.text).toContain(`<@${REQUESTER}>`);
    expect(notice.text).toContain('Set the task status to blocked');
    expect(JSON.stringify(notice.blocks)).toContain('Undo');
    await waitUntil(() => JSON.stringify(h.taskMessage(run)?.blocks ?? []).includes('Task status:* blocked'), 'task message shows blocked');

    const original = structuredClone(notice);
    await h.clickUndo(original, REQUESTER);
    await waitUntil(async () => (await h.run(run.id)).task_status === 'in_progress' || undefined, 'status restored');
    await waitUntil(() => h.slack.message(run.channel_id, notice.ts)?.text.includes('undone by') || undefined, 'notice updated');
    expect(JSON.stringify(h.slack.message(run.channel_id, notice.ts)?.blocks)).not.toContain('notice_undo');
    const undone = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'action_undone').execute();
    expect(undone.map((u) => u.actor)).toEqual([REQUESTER]);

    // A second Undo (a stale copy of the button) is refused privately.
    await h.clickUndo(original, REQUESTER);
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('already undone')), 'second undo refused');
  });
});
