import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOT_SCOPES } from '../../src/slack/oauth/index.js';
import { DbStateStore } from '../../src/slack/oauth/stateStore.js';
import { TokenCipher } from '../../src/slack/oauth/tokenCipher.js';
import { textReply } from '../helpers/fakeClaude.js';
import { installWorkspace, openCallback, startInstall } from '../helpers/oauthInstall.js';
import { OAUTH_CLIENT_ID, OAUTH_STATE_SECRET, TOKEN_ENCRYPTION_KEY, startHarness, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';

const ACME = { teamId: 'T0ACME', teamName: 'Acme <b>Corp</b>', userId: 'U0ACMEADMIN' };
const ACME_CHANNEL = 'C0ACME';

/** Replaces the state in a callback URL (and returns the cookie a browser would need to match it). */
function withState(url: string, state: string): { url: string; cookie: string } {
  const u = new URL(url);
  u.searchParams.set('state', state);
  return { url: u.toString(), cookie: `slack-app-oauth-state=${state}` };
}

describe('OAuth install into a workspace', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ oauth: true });
    h.slack.setChannel(ACME_CHANNEL, { team: ACME.teamId });
  });
  afterEach(async () => {
    await h.close();
  });

  it('redirects to the authorize page with a state, exchanges the code through SLACK_API_URL, stores the token encrypted and answers with a success page', async () => {
    const start = await startInstall(h.baseUrl);
    expect(start.status).toBe(302);
    const authorize = new URL(start.location);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${h.slack.origin}/oauth/v2/authorize`);
    expect(authorize.searchParams.get('client_id')).toBe(OAUTH_CLIENT_ID);
    expect(authorize.searchParams.get('scope')?.split(',')).toEqual(BOT_SCOPES);
    const state = authorize.searchParams.get('state') ?? '';
    expect(state.length).toBeGreaterThan(40);
    expect(start.cookie).toBe(`slack-app-oauth-state=${state}`);
    // The database keeps only a hash of the state.
    const states = await h.app.db.selectFrom('slack_oauth_states').selectAll().execute();
    expect(states).toHaveLength(1);
    expect(JSON.stringify(states)).not.toContain(state.split('.')[0]);

    const back = h.slack.oauth!.approve(start.location, { ...ACME, redirectUri: `${h.baseUrl}/slack/oauth_redirect` });
    const page = await openCallback(back, start.cookie);
    expect(page.status).toBe(200);
    expect(page.body).toContain('installed');
    // The team name comes from Slack: shown escaped, never as markup.
    expect(page.body).toContain('Acme &lt;b&gt;Corp&lt;/b&gt; (T0ACME)');
    expect(page.body).not.toContain('<b>Corp');

    const exchange = h.slack.calls.filter((c) => c.method === 'oauth.v2.access');
    expect(exchange).toHaveLength(1);
    expect(exchange[0]).toMatchObject({ ok: true, args: { client_id: OAUTH_CLIENT_ID } });
    expect(h.slack.calls.find((c) => c.method === 'auth.test')).toMatchObject({ ok: true, team: ACME.teamId });

    const issued = h.slack.oauth!.issued;
    expect(issued).toHaveLength(1);
    const token = issued[0]!.botToken;
    const raw = await h.app.db.selectFrom('slack_installations').selectAll().execute();
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatchObject({ team_id: ACME.teamId, team_name: ACME.teamName, bot_user_id: h.slack.workspaceBotUserId(ACME.teamId), installer_user_id: ACME.userId, bot_token_expires_at: null });
    // Nothing of the token is readable in the row; it decrypts with the key, for this team only.
    const dump = JSON.stringify(raw);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain('xoxb-');
    const cipher = new TokenCipher(Buffer.from(TOKEN_ENCRYPTION_KEY, 'base64'));
    expect(JSON.parse(cipher.decrypt(raw[0]!.secrets_enc, ACME.teamId))).toEqual({ botToken: token });
    expect(() => cipher.decrypt(raw[0]!.secrets_enc, 'T0OTHER')).toThrow(/cannot be decrypted/);
    // The state was used up.
    expect(await h.app.db.selectFrom('slack_oauth_states').selectAll().execute()).toEqual([]);
    const installed = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'app_installed').execute();
    expect(installed.map((a) => [a.team_id, a.actor])).toEqual([[ACME.teamId, ACME.userId]]);

    // The workspace now works: the command is authorized from the stored installation and every Slack
    // call about it carries its own token (the fake refuses Acme's channel to any other token).
    h.claude.enqueue(textReply('Done.'));
    const res = await h.command('run say hello', { teamId: ACME.teamId, channelId: ACME_CHANNEL, userId: 'U0ALICE' });
    expect(res.status).toBe(200);
    expect(res.json.text).toContain('r-');
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(run.team_id).toBe(ACME.teamId);
    await h.delivered();
    expect(h.threadTexts(run)).toContain(finalText('Done.', run.requester_id));
    const posts = h.slack.calls.filter((c) => c.method.startsWith('chat.'));
    expect(posts.length).toBeGreaterThan(0);
    expect(posts.every((c) => c.ok && c.team === ACME.teamId)).toBe(true);
  });

  it('refuses a forged state, a state from another browser, a replayed state and a cancelled install; nothing is stored', async () => {
    const redirectUri = `${h.baseUrl}/slack/oauth_redirect`;
    const start = await startInstall(h.baseUrl);
    const back = h.slack.oauth!.approve(start.location, { ...ACME, redirectUri });

    // Forged: well-formed, in a matching cookie, but not signed with SLACK_STATE_SECRET.
    const forgedState = `${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    const forged = withState(back, forgedState);
    const refusedForged = await openCallback(forged.url, forged.cookie);
    expect(refusedForged.status).toBe(400);
    expect(refusedForged.body).toContain('not valid any more');
    // Issued by another deployment (another secret).
    const store = new DbStateStore(h.app.db, OAUTH_STATE_SECRET);
    const other = new DbStateStore(h.app.db, 'another-secret-of-enough-length');
    const foreign = withState(back, await other.generateStateParam({ scopes: BOT_SCOPES }, new Date()));
    expect((await openCallback(foreign.url, foreign.cookie)).status).toBe(400);
    // Signed with this app's secret but not on record (never issued here, or already used).
    const unknownState = await store.generateStateParam({ scopes: BOT_SCOPES }, new Date());
    const unknownHash = createHash('sha256').update(unknownState.split('.')[0]!).digest('hex');
    expect(Number((await h.app.db.deleteFrom('slack_oauth_states').where('state_hash', '=', unknownHash).executeTakeFirst()).numDeletedRows)).toBe(1);
    const unknown = withState(back, unknownState);
    const refusedUnknown = await openCallback(unknown.url, unknown.cookie);
    expect(refusedUnknown.status).toBe(400);
    // The right state without the browser's cookie (the link was opened elsewhere).
    expect((await openCallback(back, '')).status).toBe(400);
    expect(h.slack.calls.filter((c) => c.method === 'oauth.v2.access')).toHaveLength(0);
    expect(await h.app.db.selectFrom('slack_installations').selectAll().execute()).toEqual([]);

    // The genuine callback still works once...
    expect((await openCallback(back, start.cookie)).status).toBe(200);
    // ...and only once: replaying it is refused before the code is sent to Slack again.
    const replay = await openCallback(back, start.cookie);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('not valid any more');
    expect(h.slack.calls.filter((c) => c.method === 'oauth.v2.access')).toHaveLength(1);

    // A state past its 10 minutes is refused even when genuine.
    const late = await store.generateStateParam({ scopes: BOT_SCOPES }, new Date(Date.now() - 11 * 60_000));
    await expect(store.verifyStateParam(new Date(), late)).rejects.toThrow(/took too long/);

    // The person clicks Cancel on Slack's page.
    const again = await startInstall(h.baseUrl);
    const denied = await openCallback(h.slack.oauth!.deny(again.location, redirectUri), again.cookie);
    expect(denied.status).toBe(400);
    expect(denied.body).toContain('cancelled');
    expect(await h.app.db.selectFrom('slack_installations').select('team_id').execute()).toEqual([{ team_id: ACME.teamId }]);
  });

  it('ignores commands from a workspace the app is not installed in', async () => {
    // A command from a workspace that never installed the app is not authorized: no run, no Slack call.
    const res = await h.command('run hello', { teamId: 'T0NOBODY', channelId: 'C0NOBODY' });
    expect(res.json?.text ?? '').not.toContain('r-');
    expect(await h.app.db.selectFrom('runs').selectAll().execute()).toEqual([]);
    expect(h.slack.calls.filter((c) => c.method.startsWith('chat.'))).toEqual([]);
  });
});

describe('OAuth install with token rotation', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('refreshes an expiring token through oauth.v2.access, stores the new one encrypted and uses it', async () => {
    // Slack's rotating tokens last 12 hours; one that expires within 2 hours is refreshed before use.
    h = await startHarness({ oauth: { tokenRotation: { expiresInSec: 3600 } } });
    h.slack.setChannel(ACME_CHANNEL, { team: ACME.teamId });
    expect((await installWorkspace(h.baseUrl, h.slack, ACME)).status).toBe(200);
    const first = h.slack.oauth!.issued[0]!;
    expect(first.refreshToken).toBeDefined();

    h.claude.enqueue(textReply('Done.'));
    await h.command('run say hello', { teamId: ACME.teamId, channelId: ACME_CHANNEL });
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(h.threadTexts(run)).toContain(finalText('Done.', run.requester_id));

    const refreshes = h.slack.calls.filter((c) => c.method === 'oauth.v2.access' && c.args['grant_type'] === 'refresh_token');
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
    expect(refreshes.every((c) => c.ok)).toBe(true);
    const latest = h.slack.oauth!.issued.at(-1)!;
    expect(latest.via).toBe('refresh_token');
    const row = await h.app.db.selectFrom('slack_installations').selectAll().executeTakeFirstOrThrow();
    const cipher = new TokenCipher(Buffer.from(TOKEN_ENCRYPTION_KEY, 'base64'));
    const stored = JSON.parse(cipher.decrypt(row.secrets_enc, ACME.teamId)) as { botToken: string; botRefreshToken: string };
    expect(h.slack.oauth!.issued.map((i) => i.botToken)).toContain(stored.botToken);
    expect(stored.botToken).not.toBe(first.botToken);
    expect(stored.botRefreshToken).not.toBe(first.refreshToken);
    expect(row.bot_token_expires_at).toBeGreaterThan(Math.floor(Date.now() / 1000) + 3000);
    const dump = JSON.stringify(row);
    for (const t of h.slack.oauth!.issued) {
      expect(dump).not.toContain(t.botToken);
      expect(dump).not.toContain(t.refreshToken);
    }
    // A refresh is not a reinstall: the installation keeps its time.
    expect(row.installed_at < row.updated_at).toBe(true);
    const posts = h.slack.calls.filter((c) => c.method.startsWith('chat.'));
    expect(posts.every((c) => c.ok && c.team === ACME.teamId)).toBe(true);
  });
});
