import { afterEach, describe, expect, it } from 'vitest';
import { InstalledClients, type TeamToken } from '../../src/slack/clients.js';
import { isAppError } from '../../src/errors.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fakeSlack.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, setLevel: () => undefined, getLevel: () => 'error' as never, setName: () => undefined };

describe('per-workspace Slack clients (OAuth mode)', () => {
  let slack: FakeSlack;
  afterEach(async () => {
    await slack.close();
  });

  function setup() {
    const stored = new Map<string, TeamToken>();
    const lookups: string[] = [];
    let now = 1_000_000;
    const clients = new InstalledClients(
      {
        botToken: async (teamId) => {
          lookups.push(teamId);
          return stored.get(teamId);
        },
      },
      { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logger: silent },
      { now: () => new Date(now) },
    );
    return { stored, lookups, clients, advance: (ms: number) => (now += ms) };
  }

  it("uses each workspace's own token, cached briefly and never past a rotating token's expiry", async () => {
    slack = await startFakeSlack({ botToken: 'xoxb-a', teamId: 'TA' });
    slack.addWorkspace({ teamId: 'TB', botToken: 'xoxb-b' });
    const { stored, lookups, clients, advance } = setup();
    stored.set('TA', { token: 'xoxb-a' });
    stored.set('TB', { token: 'xoxb-b', expiresAt: 1_000_000 / 1000 + 90 });
    expect((await (await clients.forTeam('TA')).auth.test()).team_id).toBe('TA');
    expect((await (await clients.forTeam('TB')).auth.test()).team_id).toBe('TB');
    await Promise.all([clients.forTeam('TA'), clients.forTeam('TA'), clients.forTeam('TB')]);
    expect(lookups).toEqual(['TA', 'TB']);
    // TB's token expires in 90 s: it is looked up again a minute before that; TA's after the 60 s cache.
    advance(31_000);
    await clients.forTeam('TA');
    await clients.forTeam('TB');
    expect(lookups).toEqual(['TA', 'TB', 'TB']);
    advance(30_000);
    await clients.forTeam('TA');
    expect(lookups).toEqual(['TA', 'TB', 'TB', 'TA']);
    clients.forget('TA');
    await clients.forTeam('TA');
    expect(lookups.at(-1)).toBe('TA');
    stored.delete('TA');
    clients.forget('TA');
    const err = await clients.forTeam('TA').catch((e: unknown) => e);
    expect(isAppError(err, 'not_installed')).toBe(true);
  });

  it('a token replaced elsewhere (reinstall seen by another instance) is noticed and the call made with the new one', async () => {
    slack = await startFakeSlack({ botToken: 'xoxb-old', teamId: 'TA' });
    slack.setChannel('CA', { team: 'TA' });
    const { stored, clients } = setup();
    stored.set('TA', { token: 'xoxb-old' });
    const cached = await clients.forTeam('TA');
    // Meanwhile the workspace uninstalled and installed again: the old token is revoked, a new one stored.
    slack.revokeWorkspace('TA');
    slack.addWorkspace({ teamId: 'TA', botToken: 'xoxb-new' });
    stored.set('TA', { token: 'xoxb-new' });
    expect((await cached.chat.postMessage({ channel: 'CA', text: 'hello' })).ok).toBe(true);
    expect(slack.calls.map((c) => [c.method, c.error ?? 'ok'])).toEqual([
      ['chat.postMessage', 'token_revoked'],
      ['chat.postMessage', 'ok'],
    ]);
    expect(slack.channelMessages('CA')).toHaveLength(1);
    // Really revoked (no newer token): the failure stands, without a loop.
    slack.revokeWorkspace('TA');
    await expect((await clients.forTeam('TA')).chat.postMessage({ channel: 'CA', text: 'again' })).rejects.toMatchObject({ data: { error: 'token_revoked' } });
    expect(slack.calls.filter((c) => c.error === 'token_revoked')).toHaveLength(2);
  });
});
