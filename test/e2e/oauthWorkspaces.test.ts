import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Run } from '../../src/db/schema.js';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { installWorkspace } from '../helpers/oauthInstall.js';
import { eventCallback, postSigned } from '../helpers/slackRequests.js';
import { SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';
import { blockTexts } from '../helpers/slackText.js';
import type { FakeSlackMessage } from '../helpers/fakeSlack.js';

// Two companies install the same app. Each has its own channel, people and admin; the fake Slack hides
// each workspace's channels and people from the other's token, so a call made with the wrong token fails.
const ACME = { teamId: 'T0ACME', teamName: 'Acme', userId: 'U0ACMEADMIN', channel: 'C0ACME', person: 'U0ALICE', admin: 'U0ACMEADMIN', approver: 'U0ACMEAPPROVER' };
const BETA = { teamId: 'T0BETA', teamName: 'Beta', userId: 'U0BETAADMIN', channel: 'C0BETA', person: 'U0BOB', admin: 'U0BETAADMIN', approver: 'U0BETAAPPROVER' };
type Org = typeof ACME;

const email = (to: string) => ({ to, subject: 'Hello', body: 'Just saying hello.' });

const hasButtons = (m: FakeSlackMessage | undefined) => JSON.stringify(m?.blocks ?? []).includes('approval_approve');

async function twoWorkspaces(): Promise<Harness> {
  const h = await startHarness({ oauth: true });
  for (const org of [ACME, BETA]) {
    h.slack.setChannel(org.channel, { team: org.teamId });
    const domain = org.teamName.toLowerCase();
    h.slack.addUser({ id: org.person, name: 'person', real_name: `Person of ${org.teamName}`, email: `person@${domain}.test`, team: org.teamId });
    h.slack.addUser({ id: org.admin, name: 'admin', real_name: `Admin of ${org.teamName}`, email: `admin@${domain}.test`, is_admin: true, team: org.teamId });
    h.slack.addUser({ id: org.approver, name: 'approver', real_name: `Approver of ${org.teamName}`, team: org.teamId });
    const page = await installWorkspace(h.baseUrl, h.slack, { teamId: org.teamId, teamName: org.teamName, userId: org.userId });
    expect(page.status).toBe(200);
  }
  return h;
}

const say = (h: Harness, org: Org, text: string, userId = org.person) => h.command(text, { teamId: org.teamId, channelId: org.channel, userId });

/**
 * Every Slack call naming a workspace's channel or person was made with that workspace's token; `expected`
 * are refusals the test provoked on purpose (`method error as team`).
 */
function expectOwnTokens(h: Harness, expected: string[] = []): void {
  const wrong = h.slack.calls.filter((c) => !c.ok && ['channel_not_found', 'user_not_found', 'invalid_auth', 'not_authed', 'token_revoked'].includes(c.error ?? ''));
  expect(wrong.map((c) => `${c.method} ${c.error} as ${c.team}`)).toEqual(expected);
  for (const org of [ACME, BETA]) {
    const about = h.slack.calls.filter((c) => c.ok && (c.args['channel'] === org.channel || [org.person, org.admin, org.approver].includes(String(c.args['user']))));
    expect(about.length).toBeGreaterThan(0);
    expect(about.filter((c) => c.team !== org.teamId)).toEqual([]);
  }
}

async function cardOf(h: Harness, org: Org) {
  return waitUntil(() => h.cards().find((c) => c.channel === org.channel), `a card in ${org.teamName}`);
}

/** An Events API delivery with a chosen event_time (Slack's clock, whole seconds). */
function eventAt(h: Harness, teamId: string, event: Record<string, unknown>, eventTime: number) {
  const body = JSON.stringify({
    token: 'fake-verification-token',
    team_id: teamId,
    api_app_id: 'A_APP',
    event: { event_ts: `${eventTime}.000100`, ...event },
    type: 'event_callback',
    event_id: `Ev${eventTime}${Math.floor(Math.random() * 1e6)}`,
    event_time: eventTime,
    authorizations: [{ team_id: teamId, user_id: 'U_BOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  });
  return postSigned(h.baseUrl, body, { secret: SIGNING_SECRET, contentType: 'application/json' });
}

describe('several workspaces (OAuth)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await twoWorkspaces();
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps trust rules, caps, pause and runs per workspace, and calls Slack with each workspace\'s own token', async () => {
    expect((await say(h, ACME, 'trust fetch_url require_approval', ACME.admin)).json.text).toContain('*require_approval*');
    expect((await say(h, ACME, 'caps workspace-day 3', ACME.admin)).json.text).toContain('*$3.00*');
    expect((await say(h, ACME, 'pause audit', ACME.admin)).json.text).toContain('paused');
    // Acme's admin is nobody in Beta's workspace: Slack says so to Beta's token.
    expect((await say(h, BETA, 'pause', ACME.admin)).json.text).toContain('Only admins');
    const betaAsksAboutAcmeAdmin = `users.info user_not_found as ${BETA.teamId}`;

    const betaTrust = JSON.stringify((await say(h, BETA, 'trust')).json);
    expect(betaTrust).toMatch(/`fetch_url`[^\n]*full_auto/);
    expect(JSON.stringify((await say(h, BETA, 'caps')).json)).toContain('`workspace-day`: $25.00');
    expect(JSON.stringify((await say(h, BETA, 'status')).json)).not.toContain('paused');
    expect(JSON.stringify((await say(h, ACME, 'status')).json)).toContain('paused');
    const trustRows = await h.app.db.selectFrom('trust_settings').select(['team_id', 'action_type']).execute();
    expect(trustRows).toEqual([{ team_id: ACME.teamId, action_type: 'fetch_url' }]);

    // A run in Acme; its id typed in Beta is unknown there, whatever the command.
    h.claude.enqueue(textReply('Acme answer.'));
    await say(h, ACME, 'run summarise the week');
    const acmeRun = await h.waitForRun((r) => r.team_id === ACME.teamId && r.status === 'completed');
    for (const cmd of ['status', 'log', 'cancel', 'rerun']) {
      const res = await say(h, BETA, `${cmd} ${acmeRun.id}`);
      expect(res.json.text, cmd).toContain(`There is no run \`${acmeRun.id}\``);
    }
    expect(await h.app.db.selectFrom('runs').select(['id', 'team_id']).execute()).toEqual([{ id: acmeRun.id, team_id: ACME.teamId }]);

    // Beta's run is unaffected by Acme's pause: its low-risk tool runs on its own.
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), textReply('Beta answer.'));
    await say(h, BETA, 'run find the Q2 numbers');
    const betaRun = await h.waitForRun((r) => r.team_id === BETA.teamId && r.status === 'completed');
    await h.delivered();
    expect(h.threadTexts(acmeRun)).toContain(finalText('Acme answer.', acmeRun.requester_id));
    expect(h.threadTexts(betaRun)).toContain(finalText('Beta answer.', betaRun.requester_id));
    expect(h.taskMessage(acmeRun)?.user).toBe(h.slack.workspaceBotUserId(ACME.teamId));
    expect(h.taskMessage(betaRun)?.user).toBe(h.slack.workspaceBotUserId(BETA.teamId));
    expectOwnTokens(h, [betaAsksAboutAcmeAdmin]);
  });

  it('a card of one workspace cannot be decided from the other; each sends with its own requester\'s profile', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email('client@acme-client.test') }]), textReply('Sent.'));
    await say(h, ACME, 'run email the client');
    const card = await cardOf(h, ACME);
    const outsider = await h.click(card, 'approve', BETA.approver, BETA.teamId);
    expect(outsider.status).toBe(200);
    await h.delivered();
    expect(h.smtp.mails).toHaveLength(0);
    expect((await h.app.db.selectFrom('actions').select('status').executeTakeFirstOrThrow()).status).toBe('pending');

    await h.click(card, 'approve', ACME.approver, ACME.teamId);
    const [mail] = await h.smtp.waitForMail(1);
    expect(mail?.headers.from).toContain('person@acme.test');
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expectOwnTokensFor(h, ACME);
  });
});

/** expectOwnTokens for one workspace only (the other made no calls). */
function expectOwnTokensFor(h: Harness, org: Org): void {
  const about = h.slack.calls.filter((c) => c.args['channel'] === org.channel);
  expect(about.length).toBeGreaterThan(0);
  expect(about.filter((c) => c.team !== org.teamId || !c.ok)).toEqual([]);
}

describe('uninstall (OAuth)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await twoWorkspaces();
  });
  afterEach(async () => {
    await h.close();
  });

  async function waitingRuns(): Promise<{ acme: Run; beta: Run }> {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email('a@client.test') }]));
    await say(h, ACME, 'run email a');
    await cardOf(h, ACME);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email('b@client.test') }]), textReply('Beta sent it.'));
    await say(h, BETA, 'run email b');
    await cardOf(h, BETA);
    const acme = await h.waitForRun((r) => r.team_id === ACME.teamId && r.status === 'awaiting_approval');
    const beta = await h.waitForRun((r) => r.team_id === BETA.teamId && r.status === 'awaiting_approval');
    await h.delivered();
    return { acme, beta };
  }

  it('app_uninstalled stops that workspace\'s runs, closes its approvals, pauses its schedules and deletes its tokens; the other workspace carries on', async () => {
    const { acme, beta } = await waitingRuns();
    const at = new Date().toISOString();
    await h.app.db
      .insertInto('schedules')
      .values({ id: 's-acme01', team_id: ACME.teamId, channel_id: ACME.channel, owner_id: ACME.person, cron: '0 9 * * 1', timezone: 'UTC', task: 'weekly report', status: 'active', created_by_run_id: null, last_fired_minute: null, created_at: at, updated_at: at })
      .execute();

    // Slack revokes the tokens, then tells the app.
    h.slack.revokeWorkspace(ACME.teamId);
    const res = await eventCallback(h.baseUrl, SIGNING_SECRET, { type: 'app_uninstalled' }, { teamId: ACME.teamId });
    expect(res.status).toBe(200);
    const stopped = await h.waitForRun((r) => r.id === acme.id && r.status === 'stopped');
    expect(stopped.error_code).toBe('app_uninstalled');
    expect(stopped.error_message).toContain('uninstalled from this workspace');
    await waitUntil(async () => (await h.app.db.selectFrom('slack_installations').select('team_id').execute()).length === 1 || undefined, 'the tokens to be deleted');
    expect(await h.app.db.selectFrom('slack_installations').select('team_id').execute()).toEqual([{ team_id: BETA.teamId }]);
    const actions = await h.app.db.selectFrom('actions').select(['team_id', 'status', 'decision_note']).orderBy('team_id').execute();
    expect(actions.map((a) => [a.team_id, a.status])).toEqual([
      [ACME.teamId, 'cancelled'],
      [BETA.teamId, 'pending'],
    ]);
    expect(actions[0]?.decision_note).toContain('uninstalled');
    expect((await h.app.db.selectFrom('schedules').select('status').where('id', '=', 's-acme01').executeTakeFirstOrThrow()).status).toBe('paused');
    // The workspace's summary row is written after its tokens are deleted: wait for it.
    const log = await waitUntil(async () => {
      const rows = await h.app.db.selectFrom('activity').select(['kind', 'detail_json']).where('team_id', '=', ACME.teamId).where('kind', 'in', ['app_uninstalled', 'run_stopped']).orderBy('id').execute();
      return rows.some((r) => r.kind === 'app_uninstalled') ? rows : undefined;
    }, 'the app_uninstalled activity row');
    expect(log.map((l) => l.kind)).toEqual(['run_stopped', 'app_uninstalled']);
    expect(JSON.parse(log[1]!.detail_json)).toMatchObject({ runsStopped: [acme.id], schedulesPaused: 1, tokensDeleted: true });
    // Nothing is left queued for a workspace that cannot be reached any more.
    expect(await h.app.db.selectFrom('slack_outbox').select('id').where('team_id', '=', ACME.teamId).where('status', 'in', ['queued', 'unknown', 'sending']).execute()).toEqual([]);

    // Slack redelivers the event: nothing changes, nothing is logged twice.
    await eventCallback(h.baseUrl, SIGNING_SECRET, { type: 'app_uninstalled' }, { teamId: ACME.teamId, retryNum: 1 });
    await h.delivered();
    expect(await h.app.db.selectFrom('activity').select('id').where('team_id', '=', ACME.teamId).where('kind', '=', 'app_uninstalled').execute()).toHaveLength(1);

    // Acme's old card and commands reach nothing: there is no token to act with.
    const acmeCard = h.cards().find((c) => c.channel === ACME.channel)!;
    await h.click(acmeCard, 'approve', ACME.approver, ACME.teamId);
    await say(h, ACME, 'run anything');
    await h.delivered();
    expect(h.smtp.mails).toHaveLength(0);
    expect(await h.app.db.selectFrom('runs').select('id').where('team_id', '=', ACME.teamId).execute()).toHaveLength(1);

    // Beta is untouched and finishes its run with its own token.
    expect((await h.run(beta.id)).status).toBe('awaiting_approval');
    await h.click((await cardOf(h, BETA)), 'approve', BETA.approver, BETA.teamId);
    const [mail] = await h.smtp.waitForMail(1);
    expect(mail?.envelopeTo).toEqual(['b@client.test']);
    await h.waitForRun((r) => r.id === beta.id && r.status === 'completed');
    await h.delivered();
    expect(h.threadTexts(beta)).toContain(finalText('Beta sent it.', beta.requester_id));
    const betaCalls = h.slack.calls.filter((c) => c.args['channel'] === BETA.channel);
    expect(betaCalls.filter((c) => c.team !== BETA.teamId || !c.ok)).toEqual([]);

    // Acme's card could not be edited at uninstall (no token). When Acme installs again, the card and the
    // task message of its stopped run are brought up to date with the new token, once.
    expect(hasButtons(h.slack.message(acmeCard.channel, acmeCard.ts))).toBe(true);
    expect((await installWorkspace(h.baseUrl, h.slack, { teamId: ACME.teamId, teamName: ACME.teamName, userId: ACME.userId })).status).toBe(200);
    await waitUntil(() => !hasButtons(h.slack.message(acmeCard.channel, acmeCard.ts)) || undefined, "Acme's card to be closed");
    await h.delivered();
    const closed = h.slack.message(acmeCard.channel, acmeCard.ts)!;
    expect(blockTexts(closed.blocks ?? []).join('\n')).toContain('uninstalled from this workspace');
    expect(JSON.stringify(h.taskMessage(stopped)?.blocks)).toContain('uninstalled from this workspace');
    const updates = h.slack.calls.filter((c) => c.method === 'chat.update' && c.args['channel'] === ACME.channel);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((c) => c.ok && c.team === ACME.teamId)).toBe(true);
    await installWorkspace(h.baseUrl, h.slack, { teamId: ACME.teamId, teamName: ACME.teamName, userId: ACME.userId });
    await h.delivered();
    expect(h.slack.calls.filter((c) => c.method === 'chat.update' && c.args['channel'] === ACME.channel)).toHaveLength(updates.length);
  });

  it('a reinstalled workspace is not removed by a late redelivery of its old uninstall event', async () => {
    // Acme installed a while ago and uninstalled a few seconds ago.
    await h.app.db.updateTable('slack_installations').set({ installed_at: new Date(Date.now() - 3_600_000).toISOString() }).where('team_id', '=', ACME.teamId).execute();
    h.slack.revokeWorkspace(ACME.teamId);
    const uninstalledAt = Math.floor(Date.now() / 1000) - 5;
    await eventAt(h, ACME.teamId, { type: 'app_uninstalled' }, uninstalledAt);
    await waitUntil(async () => ((await h.app.db.selectFrom('slack_installations').select('team_id').where('team_id', '=', ACME.teamId).execute()).length === 0 ? true : undefined), 'the uninstall');

    // They install again; then Slack redelivers the old event.
    expect((await installWorkspace(h.baseUrl, h.slack, { teamId: ACME.teamId, teamName: ACME.teamName, userId: ACME.userId })).status).toBe(200);
    expect((await eventAt(h, ACME.teamId, { type: 'app_uninstalled' }, uninstalledAt)).status).toBe(200);
    h.claude.enqueue(textReply('Back again.'));
    await say(h, ACME, 'run hello again');
    const run = await h.waitForRun((r) => r.team_id === ACME.teamId && r.status === 'completed');
    await h.delivered();
    expect(h.threadTexts(run)).toContain(finalText('Back again.', run.requester_id));
    expect(await h.app.db.selectFrom('slack_installations').select('team_id').orderBy('team_id').execute()).toEqual([{ team_id: ACME.teamId }, { team_id: BETA.teamId }]);
  });

  it('tokens_revoked: a revoked bot token ends the workspace like an uninstall; revoked user tokens change nothing else', async () => {
    const { acme, beta } = await waitingRuns();
    await eventCallback(h.baseUrl, SIGNING_SECRET, { type: 'tokens_revoked', tokens: { oauth: [BETA.userId] } }, { teamId: BETA.teamId });
    h.slack.revokeWorkspace(ACME.teamId);
    await eventCallback(h.baseUrl, SIGNING_SECRET, { type: 'tokens_revoked', tokens: { bot: [h.slack.workspaceBotUserId(ACME.teamId)] } }, { teamId: ACME.teamId });
    const stopped = await h.waitForRun((r) => r.id === acme.id && r.status === 'stopped');
    expect(stopped.error_code).toBe('tokens_revoked');
    expect(stopped.error_message).toContain('access to this workspace was revoked');
    await waitUntil(async () => ((await h.app.db.selectFrom('slack_installations').select('team_id').execute()).length === 1 ? true : undefined), 'the tokens to be deleted');
    expect(await h.app.db.selectFrom('slack_installations').select('team_id').execute()).toEqual([{ team_id: BETA.teamId }]);
    expect((await h.run(beta.id)).status).toBe('awaiting_approval');
    expect(await h.app.db.selectFrom('activity').select('kind').where('team_id', '=', BETA.teamId).where('kind', 'in', ['tokens_revoked', 'run_stopped']).execute()).toEqual([]);
  });
});

describe('app_uninstalled in single-token mode', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("stops the workspace's runs the same way (nothing stored to delete)", async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email('a@client.test') }]));
    await h.command('run email a');
    await h.waitForCards(1);
    await h.delivered();
    h.slack.revokeWorkspace(h.slack.teamId);
    await eventCallback(h.baseUrl, SIGNING_SECRET, { type: 'app_uninstalled' }, { teamId: h.slack.teamId });
    const run = await h.waitForRun((r) => r.status === 'stopped');
    expect(run.error_code).toBe('app_uninstalled');
    expect((await h.app.db.selectFrom('actions').select('status').executeTakeFirstOrThrow()).status).toBe('cancelled');
    // The workspace's summary row is written after its runs have stopped: wait for it.
    const log = await waitUntil(async () => {
      const rows = await h.app.db.selectFrom('activity').select('detail_json').where('kind', '=', 'app_uninstalled').execute();
      return rows.length > 0 ? rows : undefined;
    }, 'the app_uninstalled activity row');
    expect(log.map((l) => JSON.parse(l.detail_json))).toEqual([{ runsStopped: [run.id], schedulesPaused: 0, messagesDropped: 0, tokensDeleted: false }]);
  });
});
