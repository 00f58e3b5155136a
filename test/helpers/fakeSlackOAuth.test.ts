import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakeSlack.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, setLevel: () => undefined, getLevel: () => 'error' as never, setName: () => undefined };
const CLIENT = { clientId: '111.222', clientSecret: 'shh' };

describe('fake Slack: several workspaces', () => {
  let slack: FakeSlack;
  afterEach(async () => {
    await slack.close();
  });
  const web = (token?: string) => new WebClient(token, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logger: silent });

  it('acts as the workspace of the token: its bot posts, its channels and people are hidden from the others, revoked tokens fail', async () => {
    slack = await startFakeSlack({ botToken: 'xoxb-a', teamId: 'TA' });
    slack.addWorkspace({ teamId: 'TB', teamName: 'Beta', botToken: 'xoxb-b' });
    slack.setChannel('CA', { team: 'TA' });
    slack.setChannel('CB', { team: 'TB' });
    slack.addUser({ id: 'UB', name: 'bob', real_name: 'Bob', team: 'TB' });

    expect(await web('xoxb-b').auth.test()).toMatchObject({ team_id: 'TB', user_id: 'U_BOT_TB', team: 'Beta' });
    const posted = await web('xoxb-b').chat.postMessage({ channel: 'CB', text: 'hi' });
    expect(slack.message('CB', posted.ts!)?.user).toBe('U_BOT_TB');
    await expect(web('xoxb-a').chat.postMessage({ channel: 'CB', text: 'wrong token' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
    await expect(web('xoxb-a').chat.update({ channel: 'CB', ts: posted.ts!, text: 'x' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
    await expect(web('xoxb-a').users.info({ user: 'UB' })).rejects.toMatchObject({ data: { error: 'user_not_found' } });
    expect((await web('xoxb-b').users.info({ user: 'UB' })).user?.team_id).toBe('TB');
    expect(slack.calls.map((c) => [c.method, c.team, c.ok])).toEqual([
      ['auth.test', 'TB', true],
      ['chat.postMessage', 'TB', true],
      ['chat.postMessage', 'TA', false],
      ['chat.update', 'TA', false],
      ['users.info', 'TA', false],
      ['users.info', 'TB', true],
    ]);
    slack.revokeWorkspace('TB');
    await expect(web('xoxb-b').chat.postMessage({ channel: 'CB', text: 'after uninstall' })).rejects.toMatchObject({ data: { error: 'token_revoked' } });
    expect((await web('xoxb-a').chat.postMessage({ channel: 'CA', text: 'still fine' })).ok).toBe(true);
  });
});

describe('fake Slack: OAuth', () => {
  let slack: FakeSlack;
  afterEach(async () => {
    await slack.close();
  });
  const web = (token?: string) => new WebClient(token, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logger: silent });
  const authorize = (extra = '') => `${slack.origin}/oauth/v2/authorize?client_id=${CLIENT.clientId}&scope=commands,chat:write&state=st4te${extra}`;

  it('exchanges a code once, for the right client and redirect; the token then works for that workspace', async () => {
    slack = await startFakeSlack({ oauth: CLIENT });
    const back = new URL(slack.oauth!.approve(authorize('&redirect_uri=https://app.test/cb'), { teamId: 'TN', teamName: 'New', userId: 'UI' }));
    expect(`${back.origin}${back.pathname}`).toBe('https://app.test/cb');
    expect(back.searchParams.get('state')).toBe('st4te');
    const code = back.searchParams.get('code')!;
    const exchange = (args: Record<string, string>) => web().oauth.v2.access({ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, code, redirect_uri: 'https://app.test/cb', ...args });
    await expect(exchange({ client_secret: 'nope' })).rejects.toMatchObject({ data: { error: 'bad_client_secret' } });
    await expect(exchange({ client_id: '999.999' })).rejects.toMatchObject({ data: { error: 'invalid_client_id' } });
    await expect(exchange({ redirect_uri: 'https://evil.test/cb' })).rejects.toMatchObject({ data: { error: 'bad_redirect_uri' } });
    const res = await exchange({});
    expect(res).toMatchObject({ ok: true, token_type: 'bot', bot_user_id: 'U_BOT_TN', team: { id: 'TN', name: 'New' }, authed_user: { id: 'UI' }, is_enterprise_install: false });
    await expect(exchange({})).rejects.toMatchObject({ data: { error: 'invalid_code' } });
    expect(await web(res.access_token).auth.test()).toMatchObject({ team_id: 'TN', bot_id: 'B_BOT_TN' });
    expect(slack.calls.filter((c) => c.method === 'oauth.v2.access').every((c) => !('client_secret' in c.args))).toBe(true);
    expect(new URL(slack.oauth!.deny(authorize(), 'https://app.test/cb')).searchParams.get('error')).toBe('access_denied');
  });

  it('with token rotation: tokens expire and come with a refresh token that is good once', async () => {
    let clock = 1_000_000;
    slack = await startFakeSlack({ oauth: { ...CLIENT, tokenRotation: { expiresInSec: 3600 } }, now: () => clock });
    const code = new URL(slack.oauth!.approve(authorize(), { teamId: 'TR', redirectUri: 'https://app.test/cb' })).searchParams.get('code')!;
    const first = await web().oauth.v2.access({ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, code });
    expect(first).toMatchObject({ expires_in: 3600 });
    expect(first.access_token).toMatch(/^xoxe\.xoxb-/);
    const refresh = () => web().oauth.v2.access({ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    const second = await refresh();
    expect(second.access_token).not.toBe(first.access_token);
    await expect(refresh()).rejects.toMatchObject({ data: { error: 'invalid_refresh_token' } });
    clock += 3599_000;
    expect((await web(first.access_token).auth.test()).ok).toBe(true);
    clock += 1000;
    await expect(web(first.access_token).auth.test()).rejects.toMatchObject({ data: { error: 'token_expired' } });
  });
});
