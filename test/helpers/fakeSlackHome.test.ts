/**
 * The Slack fake's App Home pieces, driven by the real WebClient: conversations.members (pagination,
 * private channels, errors, Tier 4 limit) and views.publish (known users only, Block Kit limits).
 */
import { LogLevel } from '@slack/bolt';
import type { Logger } from '@slack/bolt';
import { WebAPIPlatformError, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakeSlack.js';

const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WebAPIPlatformError) return err.data.error;
    throw err;
  }
  throw new Error('expected a platform error');
}

describe('fakeSlack conversations.members and views.publish', () => {
  let slack: FakeSlack;
  let web: WebClient;

  beforeEach(async () => {
    slack = await startFakeSlack({ rateLimits: true });
    web = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, logger: silentLogger });
  });
  afterEach(async () => {
    await slack.close();
  });

  it('pages members with limit and cursor, ending with an empty next_cursor', async () => {
    const members = Array.from({ length: 7 }, (_, i) => `U${i}`);
    slack.setChannel('C_BIG', { members });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await web.conversations.members({ channel: 'C_BIG', limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...(res.members ?? []));
      cursor = res.response_metadata?.next_cursor || undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(members);
    expect(pages).toBe(3);
    expect(await errorCode(web.conversations.members({ channel: 'C_BIG', cursor: 'bogus' }))).toBe('invalid_cursor');
  });

  it('refuses private channels the bot is not in, unknown channels, and injected failures', async () => {
    slack.setChannel('G_PRIV', { members: ['U1'], is_private: true, is_member: false });
    expect(await errorCode(web.conversations.members({ channel: 'G_PRIV' }))).toBe('channel_not_found');
    slack.setChannel('C_GONE', { exists: false });
    expect(await errorCode(web.conversations.members({ channel: 'C_GONE' }))).toBe('channel_not_found');
    slack.setChannel('C_OK', { members: ['U1'] });
    slack.failNext('conversations.members', { error: 'internal_error' });
    expect(await errorCode(web.conversations.members({ channel: 'C_OK' }))).toBe('internal_error');
    expect((await web.conversations.members({ channel: 'C_OK' })).members).toEqual(['U1']);
  });

  it('limits conversations.members to Tier 4 per minute', async () => {
    slack.setChannel('C_OK', { members: ['U1'] });
    let limited = 0;
    for (let i = 0; i < 101; i++) {
      try {
        await web.conversations.members({ channel: 'C_OK' });
      } catch {
        limited++;
      }
    }
    expect(limited).toBe(1);
    expect(slack.rateStats().ratelimited['conversations.members']).toBe(1);
  });

  it('publishes Home views for known users only, replacing the previous one', async () => {
    expect(await errorCode(web.views.publish({ user_id: 'U_NOBODY', view: { type: 'home', blocks: [] } }))).toBe('user_not_found');
    slack.addUser({ id: 'U1', name: 'one', real_name: 'One' });
    await web.views.publish({ user_id: 'U1', view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'first' } }] } });
    await web.views.publish({ user_id: 'U1', view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'second' } }] } });
    expect(JSON.stringify(slack.homeView('U1')!.blocks)).toContain('second');
    const tooMany = Array.from({ length: 101 }, () => ({ type: 'divider' }));
    expect(await errorCode(web.views.publish({ user_id: 'U1', view: { type: 'home', blocks: tooMany } as never }))).toBe('invalid_arguments');
  });
});
