/**
 * Reading messages back from the Slack fake as Slack serves them: message metadata (returned only with
 * include_all_metadata), oldest/latest/inclusive, limit and cursor pagination, driven by the real
 * WebClient (including its own paginate()).
 */
import { LogLevel } from '@slack/bolt';
import type { Logger } from '@slack/bolt';
import { WebAPIPlatformError, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlack } from './fakeSlack.js';
import type { FakeSlack } from './fakeSlack.js';

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

type Msg = { ts?: string; text?: string; metadata?: unknown };

describe('fakeSlack history, replies and metadata', () => {
  let slack: FakeSlack;
  let web: WebClient;

  beforeEach(async () => {
    slack = await startFakeSlack();
    web = new WebClient(slack.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logger: silentLogger });
  });
  afterEach(async () => {
    await slack.close();
  });

  const postAll = async (channel: string, texts: string[], thread_ts?: string): Promise<string[]> => {
    const out: string[] = [];
    for (const text of texts) {
      const r = await web.chat.postMessage({ channel, text, ...(thread_ts ? { thread_ts } : {}) });
      out.push(r.ts as string);
    }
    return out;
  };
  const texts = (messages: Msg[] | undefined) => (messages ?? []).map((m) => m.text);

  it('round-trips metadata, returning it only when include_all_metadata is passed', async () => {
    const metadata = { event_type: 'agent_outbox', event_payload: { outbox_id: 'ob_1', attempt: 2, final: true } };
    const { ts, message } = await web.chat.postMessage({ channel: 'C_M', text: 'task', metadata });
    expect(message?.metadata).toEqual(metadata);
    await web.chat.postMessage({ channel: 'C_M', text: 'reply', thread_ts: ts as string, metadata });

    const plain = await web.conversations.history({ channel: 'C_M' });
    expect(plain.messages?.[0]).toMatchObject({ ts, text: 'task' });
    expect(plain.messages?.[0]).not.toHaveProperty('metadata');
    const full = await web.conversations.history({ channel: 'C_M', include_all_metadata: true });
    expect(full.messages?.[0]?.metadata).toEqual(metadata);

    const thread = await web.conversations.replies({ channel: 'C_M', ts: ts as string });
    expect(thread.messages?.every((m) => !('metadata' in m))).toBe(true);
    const fullThread = await web.conversations.replies({ channel: 'C_M', ts: ts as string, include_all_metadata: true });
    expect(fullThread.messages?.map((m) => m.metadata)).toEqual([metadata, metadata]);

    // chat.update replaces the metadata when given one, and keeps it when not.
    const next = { event_type: 'agent_outbox', event_payload: { outbox_id: 'ob_1', attempt: 3 } };
    await web.chat.update({ channel: 'C_M', ts: ts as string, text: 'task v2', metadata: next });
    await web.chat.update({ channel: 'C_M', ts: ts as string, text: 'task v3' });
    const after = await web.conversations.history({ channel: 'C_M', include_all_metadata: true });
    expect(after.messages?.[0]).toMatchObject({ text: 'task v3', metadata: next });
    expect(slack.message('C_M', ts as string)?.metadata).toEqual(next);
  });

  it('rejects malformed metadata like Slack and posts nothing', async () => {
    expect(await errorCode(web.apiCall('chat.postMessage', { channel: 'C_M', text: 'x', metadata: 'not json' }))).toBe('invalid_metadata_format');
    expect(await errorCode(web.apiCall('chat.postMessage', { channel: 'C_M', text: 'x', metadata: '["a"]' }))).toBe('invalid_metadata_format');
    expect(await errorCode(web.apiCall('chat.postMessage', { channel: 'C_M', text: 'x', metadata: { event_payload: {} } }))).toBe(
      'invalid_metadata_schema',
    );
    expect(
      await errorCode(web.apiCall('chat.postMessage', { channel: 'C_M', text: 'x', metadata: { event_type: 'a', event_payload: 'b' } })),
    ).toBe('invalid_metadata_schema');
    expect(slack.channelMessages('C_M')).toHaveLength(0);

    const { ts } = await web.chat.postMessage({ channel: 'C_M', text: 'ok' });
    expect(
      await errorCode(web.apiCall('chat.update', { channel: 'C_M', ts, text: 'changed', metadata: { event_type: 'a' } })),
    ).toBe('invalid_metadata_schema');
    expect(slack.message('C_M', ts as string)?.text).toBe('ok');
  });

  it('posts but drops metadata whose event_type has punctuation, with a warning, as Slack documents', async () => {
    const res = await web.chat.postMessage({
      channel: 'C_M',
      text: 'dotted',
      metadata: { event_type: 'task.created', event_payload: { id: 1 } },
    });
    expect(res.ok).toBe(true);
    expect(res.response_metadata?.warnings).toEqual(['invalid_metadata_schema']);
    const full = await web.conversations.history({ channel: 'C_M', include_all_metadata: true });
    expect(full.messages?.[0]).toMatchObject({ text: 'dotted' });
    expect(full.messages?.[0]).not.toHaveProperty('metadata');
  });

  it('pages conversations.history newest first with limit and cursor', async () => {
    await postAll('C_H', ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    const first = await web.conversations.history({ channel: 'C_H', limit: 3 });
    expect(texts(first.messages)).toEqual(['m7', 'm6', 'm5']);
    expect(first.has_more).toBe(true);
    const cursor = first.response_metadata?.next_cursor as string;
    expect(Buffer.from(cursor, 'base64').toString()).toMatch(/^next_ts:\d+$/);

    const second = await web.conversations.history({ channel: 'C_H', limit: 3, cursor });
    expect(texts(second.messages)).toEqual(['m4', 'm3', 'm2']);
    const third = await web.conversations.history({ channel: 'C_H', limit: 3, cursor: second.response_metadata?.next_cursor as string });
    expect(texts(third.messages)).toEqual(['m1']);
    expect(third.has_more).toBe(false);
    expect(third.response_metadata?.next_cursor).toBe('');

    // WebClient's own paginate() walks the same pages.
    const pages: string[][] = [];
    for await (const page of web.paginate('conversations.history', { channel: 'C_H', limit: 2 })) {
      pages.push(texts((page as { messages?: Msg[] }).messages) as string[]);
    }
    expect(pages).toEqual([['m7', 'm6'], ['m5', 'm4'], ['m3', 'm2'], ['m1']]);

    // Without a limit Slack returns up to 100.
    expect(texts((await web.conversations.history({ channel: 'C_H' })).messages)).toHaveLength(7);
  });

  it('honours oldest, latest and inclusive, exclusive by default', async () => {
    const ts = await postAll('C_H', ['m1', 'm2', 'm3', 'm4', 'm5']);
    const between = { channel: 'C_H', oldest: ts[1] as string, latest: ts[4] as string };
    expect(texts((await web.conversations.history(between)).messages)).toEqual(['m4', 'm3']);
    expect(texts((await web.conversations.history({ ...between, inclusive: true })).messages)).toEqual(['m5', 'm4', 'm3', 'm2']);
    expect(texts((await web.conversations.history({ channel: 'C_H', oldest: ts[2] as string })).messages)).toEqual(['m5', 'm4']);
    expect(texts((await web.conversations.history({ channel: 'C_H', latest: ts[1] as string })).messages)).toEqual(['m1']);
    // A whole-second bound without decimals compares by time, not by string.
    expect(texts((await web.conversations.history({ channel: 'C_H', oldest: '1700000000' })).messages)).toHaveLength(5);
    expect(texts((await web.conversations.history({ channel: 'C_H', latest: '1700000000' })).messages)).toHaveLength(0);

    const paged = await web.conversations.history({ ...between, inclusive: true, limit: 3 });
    expect(texts(paged.messages)).toEqual(['m5', 'm4', 'm3']);
    const rest = await web.conversations.history({ ...between, inclusive: true, limit: 3, cursor: paged.response_metadata?.next_cursor as string });
    expect(texts(rest.messages)).toEqual(['m2']);
    expect(rest.has_more).toBe(false);

    expect(await errorCode(web.conversations.history({ channel: 'C_H', oldest: 'yesterday' }))).toBe('invalid_ts_oldest');
    expect(await errorCode(web.conversations.history({ channel: 'C_H', latest: 'now' }))).toBe('invalid_ts_latest');
    expect(await errorCode(web.conversations.history({ channel: 'C_H', cursor: 'bogus' }))).toBe('invalid_cursor');
  });

  it('pages conversations.replies oldest first, the parent leading the first page only', async () => {
    const [parent] = await postAll('C_R', ['parent']);
    const replies = await postAll('C_R', ['r1', 'r2', 'r3', 'r4', 'r5'], parent);
    await postAll('C_R', ['unrelated']);

    const all = await web.conversations.replies({ channel: 'C_R', ts: parent as string });
    expect(texts(all.messages)).toEqual(['parent', 'r1', 'r2', 'r3', 'r4', 'r5']);
    expect(all.has_more).toBe(false);
    // Any message of the thread names the thread.
    expect(texts((await web.conversations.replies({ channel: 'C_R', ts: replies[2] as string })).messages)).toHaveLength(6);

    const pages: string[][] = [];
    for await (const page of web.paginate('conversations.replies', { channel: 'C_R', ts: parent as string, limit: 2 })) {
      pages.push(texts((page as { messages?: Msg[] }).messages) as string[]);
    }
    expect(pages).toEqual([['parent', 'r1'], ['r2', 'r3'], ['r4', 'r5']]);

    const since = await web.conversations.replies({ channel: 'C_R', ts: parent as string, oldest: replies[2] as string });
    expect(texts(since.messages)).toEqual(['parent', 'r4', 'r5']);
    const upTo = await web.conversations.replies({ channel: 'C_R', ts: parent as string, latest: replies[1] as string, inclusive: true });
    expect(texts(upTo.messages)).toEqual(['parent', 'r1', 'r2']);
  });
});
