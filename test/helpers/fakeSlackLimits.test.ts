/**
 * The Slack fake's rate limits and its "failed after it already happened" failures, driven by the real
 * WebClient so the app's client sees exactly what production would show it. The limiter's clock is the
 * test's own: time moves by assignment, never by sleeping.
 */
import { LogLevel } from '@slack/bolt';
import type { Logger } from '@slack/bolt';
import { WebAPIHTTPError, WebAPIRateLimitedError, WebAPIRequestError, WebClient, WebClientEvent } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, startFakeSlack } from './fakeSlack.js';
import type { FakeSlack, FakeSlackOptions } from './fakeSlack.js';

const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** The Retry-After the client was given, or 0 when the call went through. */
async function retryAfterOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (err) {
    if (err instanceof WebAPIRateLimitedError) return err.retryAfter;
    throw err;
  }
}

let slack: FakeSlack | undefined;
afterEach(async () => {
  await slack?.close();
  slack = undefined;
});

/** A fake with a hand-driven clock, and a client that surfaces 429s instead of waiting them out. */
async function limited(rateLimits: FakeSlackOptions['rateLimits']) {
  const clock = { t: 1_000_000 };
  slack = await startFakeSlack({ rateLimits, now: () => clock.t });
  const web = new WebClient(slack.botToken, {
    slackApiUrl: slack.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: silentLogger,
  });
  const post = (channel: string, text = 'x') => web.chat.postMessage({ channel, text });
  return { slack, web, clock, post };
}

describe('fakeSlack rate limits', () => {
  it('is off unless asked for, and exports the defaults the harness and bench switch on', async () => {
    slack = await startFakeSlack();
    const web = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logger: silentLogger });
    for (let i = 0; i < 10; i++) await web.chat.postMessage({ channel: 'C_ONE', text: `m${i}` });
    expect(slack.channelMessages('C_ONE')).toHaveLength(10);
    expect(slack.rateStats()).toMatchObject({ ratelimitedTotal: 0, acceptedTotal: 10, accepted: { 'chat.postMessage': 10 } });

    expect(DEFAULT_RATE_LIMITS).toMatchObject({
      windowMs: 60_000,
      postMessagePerChannel: { perSecond: 1, burst: 3 },
      postMessagePerWindow: 300,
      defaultPerWindow: 50,
    });
    expect(DEFAULT_RATE_LIMITS.perMethod).toMatchObject({
      'usergroups.users.list': 20,
      'chat.update': 50,
      'chat.delete': 50,
      'conversations.history': 50,
      'conversations.replies': 50,
      'conversations.info': 50,
      'chat.getPermalink': 300,
      'chat.postEphemeral': 100,
      'views.open': 100,
      'views.push': 100,
      'views.update': 100,
      'views.publish': 100,
      'users.info': 100,
    });
  });

  it('paces chat.postMessage per channel: a burst of 3, then 1 per second; a 429 has no effect and costs nothing', async () => {
    const { slack, clock, post } = await limited(true);
    for (let i = 0; i < 3; i++) await post('C_A', `burst ${i}`);
    const limitedErr = await rejectionOf(post('C_A', 'too soon'));
    expect(limitedErr).toBeInstanceOf(WebAPIRateLimitedError);
    expect((limitedErr as WebAPIRateLimitedError).retryAfter).toBe(1);
    expect((limitedErr as WebAPIRateLimitedError).code).toBe('slack_webapi_rate_limited_error');
    expect(slack.channelMessages('C_A').map((m) => m.text)).toEqual(['burst 0', 'burst 1', 'burst 2']);
    expect(slack.calls.at(-1)).toMatchObject({ method: 'chat.postMessage', ok: false, error: 'ratelimited' });

    // Retrying early again and again does not push the next slot further away.
    for (let i = 0; i < 5; i++) expect(await retryAfterOf(post('C_A'))).toBe(1);
    clock.t += 1000;
    await post('C_A', 'one second later');
    expect(await retryAfterOf(post('C_A'))).toBe(1);
    // A long pause refills the bucket to its burst and no further.
    clock.t += 13_000;
    for (let i = 0; i < 3; i++) await post('C_A', `refilled ${i}`);
    expect(await retryAfterOf(post('C_A'))).toBe(1);

    expect(slack.channelMessages('C_A')).toHaveLength(7);
    const stats = slack.rateStats();
    expect(stats.ratelimited['chat.postMessage']).toBe(8);
    expect(stats.ratelimitedTotal).toBe(8);
    expect(stats.ratelimitedPostsByChannel).toEqual({ C_A: 8 });
    expect(stats.accepted['chat.postMessage']).toBe(7);
  });

  it('never holds back one channel because another is limited', async () => {
    const { slack, post } = await limited(true);
    for (let i = 0; i < 3; i++) await post('C_BUSY');
    expect(await retryAfterOf(post('C_BUSY'))).toBe(1);
    for (const ch of ['C_OTHER', 'C_THIRD', 'U_ALICE']) {
      for (let i = 0; i < 3; i++) await post(ch, `${ch} ${i}`);
    }
    expect(slack.channelMessages('C_OTHER')).toHaveLength(3);
    expect(slack.channelMessages('C_THIRD')).toHaveLength(3);
    // A user id posts to the DM channel, which has its own bucket.
    expect(slack.channelMessages(slack.dmChannel('U_ALICE'))).toHaveLength(3);
    expect(await retryAfterOf(post('U_ALICE'))).toBe(1);
    expect(slack.rateStats().ratelimitedPostsByChannel).toEqual({ C_BUSY: 1, [slack.dmChannel('U_ALICE')]: 1 });
  });

  it('answers Retry-After in whole seconds, rounded up to when the slot frees, at least 1', async () => {
    const { clock, post } = await limited({ postMessagePerChannel: { perSecond: 0.25, burst: 1 } });
    await post('C_SLOW');
    expect(await retryAfterOf(post('C_SLOW'))).toBe(4);
    clock.t += 2500;
    expect(await retryAfterOf(post('C_SLOW'))).toBe(2);
    clock.t += 1499;
    expect(await retryAfterOf(post('C_SLOW'))).toBe(1);
    clock.t += 1;
    expect(await retryAfterOf(post('C_SLOW'))).toBe(0);
  });

  it('caps chat.postMessage across the workspace with a sliding window', async () => {
    const { slack, clock, post } = await limited({
      windowMs: 10_000,
      postMessagePerWindow: 4,
      postMessagePerChannel: { burst: 10 },
    });
    await post('C_1');
    clock.t += 3000;
    await post('C_2');
    await post('C_3');
    await post('C_4');
    // A fresh channel has tokens, but the workspace window is full until the first post leaves it.
    expect(await retryAfterOf(post('C_5'))).toBe(7);
    clock.t += 6500;
    expect(await retryAfterOf(post('C_5'))).toBe(1);
    clock.t += 500;
    await post('C_5');
    expect(await retryAfterOf(post('C_6'))).toBe(3);
    expect(slack.channelMessages('C_5')).toHaveLength(1);
    expect(slack.channelMessages('C_6')).toHaveLength(0);
  });

  it('limits other methods per method with sliding windows; 429s change nothing', async () => {
    const { slack, web, clock, post } = await limited({ windowMs: 10_000, perMethod: { 'chat.update': 3 } });
    const { ts } = await post('C_CARD', 'v0');
    const update = (text: string) => web.chat.update({ channel: 'C_CARD', ts: ts as string, text });
    await update('v1');
    clock.t += 4000;
    await update('v2');
    await update('v3');
    clock.t += 1000;
    expect(await retryAfterOf(update('v4 (limited)'))).toBe(5);
    expect(slack.message('C_CARD', ts as string)?.text).toBe('v3');
    // chat.delete has its own budget.
    const other = await post('C_CARD', 'to delete');
    await web.chat.delete({ channel: 'C_CARD', ts: other.ts as string });
    clock.t += 5000;
    await update('v4');
    expect(await retryAfterOf(update('v5 (limited)'))).toBe(4);
    expect(slack.message('C_CARD', ts as string)?.history.map((h) => h.text)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(slack.rateStats().ratelimited).toEqual({ 'chat.update': 2 });
    expect(slack.rateStats().accepted).toMatchObject({ 'chat.update': 4, 'chat.delete': 1, 'chat.postMessage': 2 });
  });

  it('applies Slack tiers by default: Tier 2, Tier 4 and Tier 3 for unlisted methods; auth.test is never limited', async () => {
    const { slack, web, clock } = await limited(true);
    slack.addUser({ id: 'U_A', name: 'a', real_name: 'A' });
    slack.addUserGroup('S_OPS', ['U_A']);

    const countUntilLimited = async (call: () => Promise<unknown>): Promise<{ allowed: number; retryAfter: number }> => {
      for (let allowed = 0; allowed < 1000; allowed++) {
        const retryAfter = await retryAfterOf(call());
        if (retryAfter > 0) return { allowed, retryAfter };
      }
      throw new Error('never rate-limited');
    };
    expect(await countUntilLimited(() => web.usergroups.users.list({ usergroup: 'S_OPS' }))).toEqual({ allowed: 20, retryAfter: 60 });
    clock.t += 15_000;
    expect(await countUntilLimited(() => web.users.info({ user: 'U_A' }))).toEqual({ allowed: 100, retryAfter: 60 });
    clock.t += 15_000;
    expect(await countUntilLimited(() => web.conversations.join({ channel: 'C_NEW' }))).toEqual({ allowed: 50, retryAfter: 60 });
    // The Tier 2 window opened 30 s ago.
    expect(await retryAfterOf(web.usergroups.users.list({ usergroup: 'S_OPS' }))).toBe(30);

    for (let i = 0; i < 150; i++) await web.auth.test();
    expect(slack.rateStats().ratelimited).toEqual({ 'usergroups.users.list': 2, 'users.info': 1, 'conversations.join': 1 });
    expect(slack.rateStats().accepted['auth.test']).toBe(150);
  });

  it('can be switched on and off at runtime, with fresh budgets', async () => {
    const { slack, post } = await limited(false);
    for (let i = 0; i < 5; i++) await post('C_X');
    slack.setRateLimits(true);
    for (let i = 0; i < 3; i++) await post('C_X');
    expect(await retryAfterOf(post('C_X'))).toBe(1);
    slack.setRateLimits(false);
    await post('C_X');
    slack.resetRateStats();
    expect(slack.rateStats()).toEqual({ ratelimited: {}, ratelimitedTotal: 0, ratelimitedPostsByChannel: {}, accepted: {}, acceptedTotal: 0 });
  });

  it("lets WebClient's default handling wait out Retry-After and retry (real clock)", async () => {
    slack = await startFakeSlack({ rateLimits: { postMessagePerChannel: { burst: 1 } } });
    const web = new WebClient(slack.botToken, { slackApiUrl: slack.url, logger: silentLogger });
    const limitedEvents: number[] = [];
    web.on(WebClientEvent.RATE_LIMITED, (retryAfter: number) => limitedEvents.push(retryAfter));
    await web.chat.postMessage({ channel: 'C_Q', text: 'first' });
    await web.chat.postMessage({ channel: 'C_Q', text: 'second' });
    expect(limitedEvents).toEqual([1]);
    expect(slack.channelMessages('C_Q').map((m) => m.text)).toEqual(['first', 'second']);
    expect(slack.callsTo('chat.postMessage')).toHaveLength(3);
  });
});

describe('fakeSlack failures after the effect', () => {
  async function plain(retries: number) {
    slack = await startFakeSlack();
    const web = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries, factor: 1, minTimeout: 10, maxTimeout: 10 },
      logger: silentLogger,
    });
    return { slack, web };
  }

  it('stores the message, then answers HTTP 500: the client sees an HTTP error, Slack has exactly one message', async () => {
    const { slack, web } = await plain(0);
    slack.failNext('chat.postMessage', { status: 500, afterEffect: true });
    const err = await rejectionOf(web.chat.postMessage({ channel: 'C_T', text: 'card' }));
    expect(err).toBeInstanceOf(WebAPIHTTPError);
    expect((err as WebAPIHTTPError).statusCode).toBe(500);
    expect(slack.channelMessages('C_T').map((m) => m.text)).toEqual(['card']);
    expect(slack.calls.at(-1)).toMatchObject({ method: 'chat.postMessage', ok: false, error: 'http_500', performed: true });
  });

  it('shows why a client retry of such a post is a duplicate', async () => {
    const { slack, web } = await plain(1);
    slack.failNext('chat.postMessage', { status: 503, afterEffect: true });
    await expect(web.chat.postMessage({ channel: 'C_T', text: 'card' })).resolves.toMatchObject({ ok: true });
    expect(slack.channelMessages('C_T').map((m) => m.text)).toEqual(['card', 'card']);
  });

  it('drops the connection after storing: a network error on the client, one message in Slack', async () => {
    const { slack, web } = await plain(0);
    slack.failNext('chat.postMessage', { drop: true, afterEffect: true });
    const err = await rejectionOf(web.chat.postMessage({ channel: 'C_T', text: 'final answer' }));
    expect(err).toBeInstanceOf(WebAPIRequestError);
    expect(slack.channelMessages('C_T').map((m) => m.text)).toEqual(['final answer']);
    expect(slack.calls.at(-1)).toMatchObject({ ok: false, error: 'connection_dropped', performed: true });
    // The fake keeps serving afterwards.
    await expect(web.chat.postMessage({ channel: 'C_T', text: 'next' })).resolves.toMatchObject({ ok: true });
  });

  it('drops the connection before any effect: nothing stored, and a retry posts once', async () => {
    const { slack, web } = await plain(0);
    slack.failNext('chat.postMessage', { drop: true });
    expect(await rejectionOf(web.chat.postMessage({ channel: 'C_T', text: 'lost' }))).toBeInstanceOf(WebAPIRequestError);
    expect(slack.channelMessages('C_T')).toHaveLength(0);
    expect(slack.calls.at(-1)).toMatchObject({ ok: false, error: 'connection_dropped' });
    expect(slack.calls.at(-1)?.performed).toBeUndefined();

    const retrying = new WebClient(slack.botToken, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 1, factor: 1, minTimeout: 10, maxTimeout: 10 },
      logger: silentLogger,
    });
    slack.failNext('chat.postMessage', { drop: true });
    await expect(retrying.chat.postMessage({ channel: 'C_T', text: 'retried' })).resolves.toMatchObject({ ok: true });
    expect(slack.channelMessages('C_T').map((m) => m.text)).toEqual(['retried']);
  });

  it('applies an update before answering 500', async () => {
    const { slack, web } = await plain(0);
    const { ts } = await web.chat.postMessage({ channel: 'C_T', text: 'running' });
    slack.failNext('chat.update', { status: 502, afterEffect: true });
    expect(await rejectionOf(web.chat.update({ channel: 'C_T', ts: ts as string, text: 'done' }))).toBeInstanceOf(WebAPIHTTPError);
    expect(slack.message('C_T', ts as string)?.text).toBe('done');
  });

  it('waits for a call the limiter lets through before failing after the effect', async () => {
    const { slack, clock, post } = await limited({ postMessagePerChannel: { burst: 1 } });
    await post('C_L', 'first');
    slack.failNext('chat.postMessage', { status: 500, afterEffect: true });
    expect(await retryAfterOf(post('C_L', 'limited'))).toBe(1);
    clock.t += 1000;
    const err = await rejectionOf(post('C_L', 'stored then 500'));
    expect((err as WebAPIHTTPError).statusCode).toBe(500);
    expect(slack.channelMessages('C_L').map((m) => m.text)).toEqual(['first', 'stored then 500']);
    expect(slack.rateStats().accepted['chat.postMessage']).toBe(2);
  });
});
