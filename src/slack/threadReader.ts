import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import type { ThreadMessage, ThreadRead } from '../agent/threadContext.js';
import { errorMessage } from '../errors.js';
import { classifySlackError } from './outbox/slackErrors.js';

/** One page is all we read: Slack allows apps outside the Marketplace about one conversations.replies a minute. */
const PAGE = 200;
/** A thread read is reused this long (duplicate deliveries, several mentions in one thread at once). */
const CACHE_MS = 60_000;
const CACHE_ENTRIES = 200;

const repliesSchema = z.object({
  messages: z
    .array(
      z.looseObject({
        ts: z.string(),
        user: z.string().optional(),
        bot_id: z.string().optional(),
        text: z.string().optional(),
        subtype: z.string().optional(),
      }),
    )
    .default([]),
  has_more: z.boolean().optional(),
});

export interface ThreadReadRequest {
  client: WebClient;
  teamId: string;
  channel: string;
  threadTs: string;
  /** Only messages before this one (the mention itself is the task, not context). */
  beforeTs: string;
}

export interface ThreadReader {
  read(req: ThreadReadRequest): Promise<ThreadRead>;
}

/**
 * Reads the earlier messages of a thread with conversations.replies: one page, once. Reads are cached
 * briefly and shared while in flight, because Slack's limit for apps outside the Marketplace is about one
 * call per minute; a 429 (or any failure) is not retried: the run starts without the thread and the model
 * is told it could not be read.
 */
export class SlackThreadReader implements ThreadReader {
  private readonly cache = new Map<string, { at: number; read: Promise<ThreadRead> }>();

  constructor(private readonly now: () => number) {}

  read(req: ThreadReadRequest): Promise<ThreadRead> {
    const key = `${req.teamId}:${req.channel}:${req.threadTs}:${req.beforeTs}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < CACHE_MS) return hit.read;
    const read = this.fetch(req);
    this.cache.set(key, { at: this.now(), read });
    while (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    return read;
  }

  private async fetch(req: ThreadReadRequest): Promise<ThreadRead> {
    try {
      const res = repliesSchema.parse(
        await req.client.conversations.replies({ channel: req.channel, ts: req.threadTs, latest: req.beforeTs, inclusive: false, limit: PAGE }),
      );
      const messages: ThreadMessage[] = res.messages
        // Joins, topic changes and the like are not conversation.
        .filter((m) => m.ts !== req.beforeTs && (m.subtype === undefined || m.subtype === 'bot_message' || m.subtype === 'thread_broadcast' || m.subtype === 'file_share'))
        .map((m) => ({ ts: m.ts, userId: m.user, botId: m.bot_id, text: m.text ?? '' }));
      return { ok: true, messages, more: res.has_more === true };
    } catch (err) {
      const failure = classifySlackError(err);
      const reason = failure.kind === 'rate_limited' ? 'Slack rate-limited reading the thread' : failure.kind === 'permanent' ? `Slack answered ${failure.code}` : `reading it failed: ${errorMessage(err)}`;
      return { ok: false, reason };
    }
  }
}
