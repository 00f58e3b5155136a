import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { Db } from '../../db/connection.js';
import { appendActivity } from '../../db/repos/activity.js';
import { dbTime } from '../../db/dbClock.js';
import { isPostgres } from '../../db/dialect.js';
import { parseStoredJson } from '../../db/json.js';
import type { OutboxRow, OutboxStatus } from '../../db/schema.js';
import { outboxPayloadSchema, taskKey, type Outbox, type OutboxPayload } from '../../agent/outbox.js';
import { errorMessage } from '../../errors.js';
import { md, channelRef } from '../../text/mrkdwn.js';
import { classifySlackError, type SlackFailure } from './slackErrors.js';
import type { SlackClients } from '../clients.js';
import type { SlackPacer } from './pacer.js';
import type { OutboxRenderer } from './render.js';
import type { MetricsSink } from '../../metrics/sink.js';
import type { Foreground } from '../../foreground.js';

/** Marks our posts so a post whose fate is unknown (5xx, timeout, crash) can be found in Slack. */
export const OUTBOX_EVENT_TYPE = 'agent_outbox';

export interface DeliverySettings {
  /** Posts/updates in flight at once (across channels; pacing still applies per channel and method). */
  maxInFlight: number;
  /** Attempts for 5xx, network errors and timeouts before a message is given up (429s do not count). */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Safety net: the loop also looks for due rows this often, even without a wake-up. */
  pollMs: number;
  /**
   * A row claimed longer ago than this is treated as interrupted even if its instance still looks alive
   * (every Slack call has a 15 s timeout, so no send takes this long).
   */
  claimBoundMs: number;
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  maxInFlight: 8,
  maxAttempts: 12,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  pollMs: 1000,
  claimBoundMs: 5 * 60_000,
};

/** What the agent wants done when a message can never be delivered (e.g. the task message). */
export interface UndeliverableHandler {
  (row: OutboxRow, payload: OutboxPayload, failure: { code: string; message: string }): Promise<void>;
}

export interface DeliveryDeps {
  db: Db;
  clock: Clock;
  /** Each row is sent with its own workspace's token. */
  clients: SlackClients;
  pacer: SlackPacer;
  renderer: OutboxRenderer;
  logger: Logger;
  onUndeliverable: UndeliverableHandler;
  /** Used to queue follow-ups of a delivery (the task message links a card posted elsewhere). */
  outbox: Outbox;
  /** This instance (src/cluster/instances.ts): rows it claims carry this id. */
  instanceId: string;
  settings?: Partial<DeliverySettings>;
  /** Counts each Web API call by method and outcome (METRICS_PORT). */
  metrics?: MetricsSink;
  /** Each pass waits its turn behind requests being answered (src/foreground.ts). */
  foreground?: Foreground;
}

const OPEN: OutboxStatus[] = ['queued', 'sending', 'unknown'];

/** Everything a pass needs to decide what goes next: the row without its payload. */
const HEAD_COLUMNS = [
  'id',
  'team_id',
  'run_id',
  'lane',
  'msg_key',
  'op',
  'priority',
  'channel',
  'thread_key',
  'status',
  'attempts',
  'not_before',
  'claimed_by',
  'claimed_at',
  'sent_ts',
  'error',
  'created_at',
  'updated_at',
] as const;
type OutboxHead = Omit<OutboxRow, 'payload_json'>;

/**
 * Delivers the Slack outbox: paced per channel and method, in order within a lane (a run's thread),
 * decisions before progress, 429s honoured per scope, 5xx and network errors retried with bounded
 * backoff, permanent errors recorded and handed to the agent. A post whose outcome is unknown is looked
 * up (by its metadata) before it is sent again, so a crash or a 500 never shows a message twice.
 */
export class OutboxDelivery {
  readonly instanceId: string;
  private readonly settings: DeliverySettings;
  private running = false;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly resolved = new Map<string, { channel: string; ts: string }>();
  private readonly roots = new Map<string, { channel: string; ts: string }>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: DeliveryDeps) {
    this.settings = { ...DEFAULT_DELIVERY_SETTINGS, ...deps.settings };
    this.instanceId = deps.instanceId;
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  /**
   * Rows another instance left mid-send because it is gone (its instance row expired or was removed), or
   * claimed implausibly long ago: a post may or may not have reached Slack, so it is looked up before
   * being sent again; an update is simply sent again (it is idempotent). Rows of a live instance are its
   * own business: a restart of one instance never resends what another is sending. Called at startup and
   * at every sweep.
   */
  async reclaimInterrupted(): Promise<number> {
    const { db } = this.deps;
    const at = this.now().toISOString();
    let n = 0;
    for (const op of ['post', 'update', 'home'] as const) {
      const res = await db
        .updateTable('slack_outbox')
        .set({ status: op === 'post' ? 'unknown' : 'queued', claimed_by: null, updated_at: at })
        .where('status', '=', 'sending')
        .where('op', '=', op)
        .where((eb) =>
          eb.or([
            eb('claimed_by', 'is', null),
            eb.and([
              eb('claimed_by', '!=', this.instanceId),
              eb.or([
                eb('claimed_at', '<', dbTime(db, -this.settings.claimBoundMs)),
                eb('claimed_by', 'not in', eb.selectFrom('instances').select('instances.id').where('expires_at', '>=', dbTime(db))),
              ]),
            ]),
          ]),
        )
        .executeTakeFirst();
      n += Number(res.numUpdatedRows);
    }
    return n;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Something new may be deliverable: run a pass soon (passes never overlap). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => void this.loop());
  }

  /** Resolves when nothing is left to deliver (tests, benchmarks). */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wake();
    });
  }

  private async loop(): Promise<void> {
    let nextInMs = this.settings.pollMs;
    try {
      do {
        this.again = false;
        // Wakes that arrive while this waits are folded into the pass (running is set).
        await this.deps.foreground?.turn();
        if (this.stopped) break;
        nextInMs = await this.pass();
      } while (this.again && !this.stopped);
    } catch (err) {
      this.deps.logger.error({ err: errorMessage(err) }, 'Slack outbox pass failed');
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), Math.max(5, Math.min(nextInMs, this.settings.pollMs)));
    this.timer.unref();
  }

  /**
   * One look at the queue; returns how long until something may become due. The scan reads every open
   * row (lane order and message keys need them all) but not their payloads: those are read only for the
   * rows claimed, by the claim itself. Rows whose Slack method is paced are passed over before any of
   * their lookups.
   */
  private async pass(): Promise<number> {
    const { db } = this.deps;
    const rows: OutboxHead[] = await db.selectFrom('slack_outbox').select(HEAD_COLUMNS).where('status', 'in', OPEN).orderBy('id').limit(2000).execute();
    if (rows.length === 0 && this.inFlight.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return this.settings.pollMs;
    }
    const now = this.now().getTime();
    let nextInMs = this.settings.pollMs;
    const lanesWithEarlierPost = new Set<string>();
    const keysBeingSent = new Set(rows.filter((r) => r.status === 'sending' && r.msg_key).map((r) => r.msg_key as string));
    const keysWithOpenPost = new Set(rows.filter((r) => r.op === 'post' && r.msg_key).map((r) => r.msg_key as string));
    const candidates: OutboxHead[] = [];
    for (const r of rows) {
      if (r.op === 'post') {
        // Posts of a lane go strictly in order: a card never overtakes the thread lines before it.
        if (lanesWithEarlierPost.has(r.lane)) continue;
        lanesWithEarlierPost.add(r.lane);
        if (r.status === 'sending' || this.inFlight.has(r.id)) continue;
      } else if (r.op === 'assistant') {
        // A thread status waits for the lane's earlier posts (a post clears it) but holds nothing back.
        if (lanesWithEarlierPost.has(r.lane) || r.status !== 'queued' || this.inFlight.has(r.id)) continue;
        if (r.msg_key && keysBeingSent.has(r.msg_key)) continue;
      } else {
        if (r.status !== 'queued' || this.inFlight.has(r.id)) continue;
        // Two updates of one message are never in flight together (they could arrive out of order).
        if (r.msg_key && (keysBeingSent.has(r.msg_key) || keysWithOpenPost.has(r.msg_key))) continue;
      }
      const due = Date.parse(r.not_before) - now;
      if (due > 0) {
        nextInMs = Math.min(nextInMs, due);
        continue;
      }
      candidates.push(r);
    }
    candidates.sort((a, b) => a.priority - b.priority || a.id - b.id);
    const batch: Array<{ row: OutboxHead; target: Target }> = [];
    for (const row of candidates) {
      if (this.stopped || this.inFlight.size + batch.length >= this.settings.maxInFlight) break;
      // The method is known without a lookup for plain posts and updates: a paced one waits right here.
      const method = row.op === 'update' ? 'chat.update' : row.op === 'post' && row.status === 'queued' ? 'chat.postMessage' : undefined;
      if (method) {
        const wait = this.deps.pacer.wait(row.team_id, method, row.channel);
        if (wait > 0) {
          nextInMs = Math.min(nextInMs, wait);
          continue;
        }
      }
      const target = await this.target(row);
      if (target === 'wait') continue;
      if (target === 'gone') {
        await this.finish(row, 'superseded', { error: 'the message it refers to was never posted' });
        continue;
      }
      const wait = this.deps.pacer.take(row.team_id, target.method, target.channel);
      if (wait > 0) {
        nextInMs = Math.min(nextInMs, wait);
        continue;
      }
      if (row.msg_key) keysBeingSent.add(row.msg_key);
      batch.push({ row, target });
    }
    const claimed = batch.length > 0 ? await this.claim(batch.map((b) => b.row)) : new Map<number, string>();
    for (const { row: head, target } of batch) {
      const payload_json = claimed.get(head.id);
      if (payload_json === undefined) continue;
      const row: OutboxRow = { ...head, payload_json };
      const job = this.deliver(row, target)
        .catch((err: unknown) => this.deps.logger.error({ err: errorMessage(err), outboxId: row.id }, 'Slack outbox delivery crashed'))
        .finally(() => {
          this.inFlight.delete(row.id);
          this.wake();
        });
      this.inFlight.set(row.id, job);
    }
    return nextInMs;
  }

  /**
   * Claims rows for this instance, in one transaction: each only if it is still as this pass read it
   * (another instance may have sent it, or put it back with a later not_before, since), and, for an
   * update, only if no other update of the same message is being sent by any instance (they could reach
   * Slack out of order). Returns the payload of each row claimed, by id.
   */
  private claim(rows: OutboxHead[]): Promise<Map<number, string>> {
    const { db } = this.deps;
    return db.transaction().execute(async (trx) => {
      const claimed = new Map<number, string>();
      const nowIso = this.now().toISOString();
      for (const row of rows) {
        if ((row.op === 'update' || row.op === 'home') && row.msg_key) {
          let open = trx.selectFrom('slack_outbox').select(['id', 'status']).where('msg_key', '=', row.msg_key).where('status', 'in', ['queued', 'sending']).orderBy('id');
          // Claims of one message's updates take turns (Postgres; SQLite runs one transaction at a time).
          if (isPostgres(trx)) open = open.forUpdate();
          if ((await open.execute()).some((r) => r.status === 'sending')) continue;
        }
        const res = await trx
          .updateTable('slack_outbox')
          .set({ status: 'sending', claimed_by: this.instanceId, claimed_at: dbTime(trx) })
          .where('id', '=', row.id)
          .where('status', '=', row.status)
          .where('updated_at', '=', row.updated_at)
          .where('attempts', '=', row.attempts)
          .where('not_before', '<=', nowIso)
          .returning('payload_json')
          .executeTakeFirst();
        if (res) claimed.set(row.id, res.payload_json);
      }
      return claimed;
    });
  }

  /** Where a row goes and with which method, or why it cannot go yet. */
  private async target(row: OutboxHead): Promise<Target | 'wait' | 'gone'> {
    if (row.op === 'assistant') {
      const parent = row.thread_key ? await this.threadParent(row.thread_key) : undefined;
      if (!parent) return row.thread_key && (await this.pending(row.thread_key)) ? 'wait' : 'gone';
      const method = row.msg_key?.startsWith('status:') ? 'assistant.threads.setStatus' : 'assistant.threads.setSuggestedPrompts';
      return { method, channel: row.channel, threadTs: parent.ts, lookup: false };
    }
    if (row.op === 'post') {
      let threadTs: string | undefined;
      if (row.thread_key) {
        const parent = await this.threadParent(row.thread_key);
        if (!parent) return (await this.pending(row.thread_key)) ? 'wait' : 'gone';
        threadTs = parent.ts;
      }
      if (row.status === 'unknown') return { method: threadTs ? 'conversations.replies' : 'conversations.history', channel: row.channel, threadTs, lookup: true };
      return { method: 'chat.postMessage', channel: row.channel, threadTs, lookup: false };
    }
    // A Home view goes to a user (the row's channel); it needs no message to exist first.
    if (row.op === 'home') return { method: 'views.publish', channel: row.channel, lookup: false };
    if (!row.msg_key) return 'gone';
    const at = await this.resolve(row.msg_key);
    if (!at) return (await this.pending(row.msg_key)) ? 'wait' : 'gone';
    return { method: 'chat.update', channel: at.channel, ts: at.ts, lookup: false };
  }

  /** Is a post for this key still on its way? */
  private async pending(key: string): Promise<boolean> {
    const row = await this.deps.db.selectFrom('slack_outbox').select('id').where('msg_key', '=', key).where('op', '=', 'post').where('status', 'in', OPEN).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * The message a thread post goes under. A run's thread (`task:<run>`) starts at the run's thread root:
   * the task message itself, or the message a run started from (a mention, a DM), under which the task
   * message is the first reply. Replies always name the root, never another reply.
   */
  private async threadParent(key: string): Promise<{ channel: string; ts: string } | undefined> {
    if (key.startsWith('task:')) {
      const runId = key.slice('task:'.length);
      const known = this.roots.get(runId);
      if (known) return known;
      const run = await this.deps.db.selectFrom('runs').select(['channel_id', 'thread_ts']).where('id', '=', runId).executeTakeFirst();
      if (run?.thread_ts) {
        const root = { channel: run.channel_id, ts: run.thread_ts };
        this.roots.set(runId, root);
        return root;
      }
    }
    return this.resolve(key);
  }

  private async resolve(key: string): Promise<{ channel: string; ts: string } | undefined> {
    const cached = this.resolved.get(key);
    if (cached) return cached;
    if (key.startsWith('ts:')) {
      const [, channel, ts] = key.split(':');
      if (channel && ts) return { channel, ts };
      return undefined;
    }
    const row = await this.deps.db.selectFrom('slack_messages').select(['channel', 'ts']).where('msg_key', '=', key).executeTakeFirst();
    if (row) this.resolved.set(key, row);
    return row;
  }

  private async deliver(row: OutboxRow, target: Target): Promise<void> {
    let payload: OutboxPayload;
    try {
      payload = parseStoredJson(outboxPayloadSchema, row.payload_json, 'outbox payload');
    } catch (err) {
      await this.giveUp(row, undefined, { code: 'invalid_payload', message: errorMessage(err) });
      return;
    }
    try {
      const client = await this.deps.clients.forTeam(row.team_id);
      if (target.lookup) {
        const found = await this.lookup(client, row, target);
        this.deps.metrics?.slackCall(target.method, 'ok');
        if (found) {
          this.deps.logger.info({ outboxId: row.id, ts: found }, 'a post of unknown outcome was found in Slack; not sending it again');
          await this.markSent(row, target.channel, found);
        } else {
          await this.finish(row, 'queued', {});
        }
        return;
      }
      const content = await this.deps.renderer.render(payload, { op: row.op, channel: target.channel, teamId: row.team_id });
      if (!content) {
        await this.finish(row, 'superseded', { error: 'nothing to show any more' });
        return;
      }
      if (row.op === 'home') {
        if (!content.view) {
          await this.finish(row, 'superseded', { error: 'nothing to show any more' });
          return;
        }
        await client.views.publish({ user_id: target.channel, view: content.view as never });
        this.deps.metrics?.slackCall(target.method, 'ok');
        await this.finish(row, 'sent', {});
      } else if (row.op === 'assistant') {
        await this.deliverAssistant(client, payload, target, content.text);
        await this.finish(row, 'sent', {});
      } else if (row.op === 'post') {
        const res = await client.chat.postMessage({
          channel: target.channel,
          ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
          ...((target.threadTs && content.broadcast ? { reply_broadcast: true } : {}) as object),
          text: content.text,
          ...(content.blocks ? { blocks: content.blocks as never } : {}),
          unfurl_links: false,
          unfurl_media: false,
          metadata: { event_type: OUTBOX_EVENT_TYPE, event_payload: { outbox_id: String(row.id) } },
        });
        this.deps.metrics?.slackCall(target.method, 'ok');
        if (!res.ts) throw new Error('chat.postMessage returned no ts');
        await this.markSent(row, res.channel ?? target.channel, res.ts);
      } else {
        await client.chat.update({ channel: target.channel, ts: target.ts ?? '', text: content.text, ...(content.blocks ? { blocks: content.blocks as never } : {}) });
        this.deps.metrics?.slackCall(target.method, 'ok');
        await this.finish(row, 'sent', { sent_ts: target.ts ?? null });
      }
    } catch (err) {
      const failure = classifySlackError(err);
      this.deps.metrics?.slackCall(target.method, failure.kind === 'rate_limited' ? 'rate_limited' : 'error');
      await this.failed(row, payload, target, failure);
    }
  }

  /** A call on an AI-surface thread: idempotent (it sets state), so it is simply sent again after a failure. */
  private async deliverAssistant(client: WebClient, payload: OutboxPayload, target: Target, text: string): Promise<void> {
    const thread = { channel_id: target.channel, thread_ts: target.threadTs ?? '' };
    if (payload.kind === 'prompts') {
      await client.assistant.threads.setSuggestedPrompts({ ...thread, prompts: payload.prompts as never, ...(payload.title ? { title: payload.title } : {}) });
      return;
    }
    await client.assistant.threads.setStatus({ ...thread, status: text });
  }

  /** Reads the thread (or channel) back for our own marker: the only proof a post happened. */
  private async lookup(client: WebClient, row: OutboxRow, target: Target): Promise<string | undefined> {
    const oldest = String(Math.floor(Date.parse(row.created_at) / 1000) - 60);
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const res = target.threadTs
        ? await client.conversations.replies({ channel: target.channel, ts: target.threadTs, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) })
        : await client.conversations.history({ channel: target.channel, oldest, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) });
      for (const m of (res.messages ?? []) as Array<{ ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }>) {
        if (m.metadata?.event_type === OUTBOX_EVENT_TYPE && m.metadata.event_payload?.['outbox_id'] === String(row.id) && m.ts) return m.ts;
      }
      cursor = res.response_metadata?.next_cursor || undefined;
      if (!res.has_more || !cursor) break;
    }
    return undefined;
  }

  private async failed(row: OutboxRow, payload: OutboxPayload, target: Target, failure: SlackFailure): Promise<void> {
    const { logger, pacer } = this.deps;
    const back = row.status === 'unknown' || (target.lookup ?? false) ? 'unknown' : 'queued';
    if (failure.kind === 'rate_limited') {
      pacer.block(row.team_id, target.method, target.channel, failure.retryAfterMs);
      logger.info({ outboxId: row.id, method: target.method, channel: target.channel, retryAfterMs: failure.retryAfterMs }, 'Slack rate limit: waiting');
      await this.finish(row, back, { not_before: new Date(this.now().getTime() + failure.retryAfterMs).toISOString() });
      return;
    }
    if (failure.kind === 'permanent') {
      if (row.op === 'post' && !target.lookup && payload.kind === 'card' && !row.thread_key && (await this.fallBackToThread(row, failure))) return;
      await this.giveUp(row, payload, failure);
      return;
    }
    const attempts = row.attempts + 1;
    if (attempts >= this.settings.maxAttempts) {
      await this.giveUp(row, payload, { code: 'too_many_attempts', message: failure.message });
      return;
    }
    const delay = Math.min(this.settings.backoffMaxMs, this.settings.backoffBaseMs * 2 ** (attempts - 1));
    // A post that may have reached Slack is looked up before it is sent again.
    const next: OutboxStatus = row.op === 'post' && (failure.kind === 'ambiguous' || back === 'unknown') ? 'unknown' : 'queued';
    logger.warn({ outboxId: row.id, method: target.method, err: failure.message, attempts, retryInMs: delay }, 'Slack call failed; will retry');
    await this.finish(row, next, { attempts, error: failure.message, not_before: new Date(this.now().getTime() + delay).toISOString() });
  }

  /** An approval card that cannot reach the approvals channel goes to the task thread instead. */
  private async fallBackToThread(row: OutboxRow, failure: { code?: string; message: string }): Promise<boolean> {
    if (!row.run_id) return false;
    const run = await this.deps.db.selectFrom('runs').select(['id', 'channel_id', 'team_id']).where('id', '=', row.run_id).executeTakeFirst();
    if (!run || run.channel_id === row.channel) return false;
    const at = this.now().toISOString();
    this.deps.logger.warn({ outboxId: row.id, channel: row.channel, err: failure.message }, 'approvals channel unusable; posting the card in the task thread');
    await this.deps.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('slack_outbox')
        .set({ channel: run.channel_id, thread_key: taskKey(run.id), status: 'queued', error: failure.message, updated_at: at })
        .where('id', '=', row.id)
        .execute();
      await appendActivity(trx, { at, teamId: row.team_id, runId: row.run_id, actor: 'system', kind: 'slack_delivery_failed', detail: { outboxId: row.id, op: row.op, key: row.msg_key, channel: row.channel, error: failure.code ?? 'unknown_error', message: failure.message, fallback: 'task_thread' } });
      const text = md`:information_source: I could not post the approval card in ${channelRef(row.channel)} (${failure.message}), so it is here instead.`;
      await trx
        .insertInto('slack_outbox')
        .values({
          team_id: row.team_id,
          run_id: row.run_id,
          lane: `note:${row.run_id}`,
          msg_key: null,
          op: 'post',
          priority: row.priority,
          channel: run.channel_id,
          thread_key: taskKey(run.id),
          payload_json: JSON.stringify({ kind: 'line', text: text.value }),
          status: 'queued',
          attempts: 0,
          not_before: at,
          created_at: at,
          updated_at: at,
        })
        .execute();
    });
    return true;
  }

  private async giveUp(row: OutboxRow, payload: OutboxPayload | undefined, failure: { code: string; message: string }): Promise<void> {
    const at = this.now().toISOString();
    this.deps.logger.warn({ outboxId: row.id, key: row.msg_key, channel: row.channel, err: failure.message }, 'Slack message could not be delivered; giving up');
    await this.deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('slack_outbox').set({ status: 'failed', error: failure.message, updated_at: at }).where('id', '=', row.id).execute();
      await appendActivity(trx, {
        at,
        teamId: row.team_id,
        runId: row.run_id,
        actor: 'system',
        kind: 'slack_delivery_failed',
        detail: { outboxId: row.id, op: row.op, key: row.msg_key, channel: row.channel, error: failure.code, message: failure.message },
      });
    });
    if (payload && row.op === 'post') {
      await this.deps.onUndeliverable(row, payload, failure).catch((err: unknown) => this.deps.logger.error({ err: errorMessage(err), outboxId: row.id }, 'handling an undeliverable message failed'));
    }
  }

  private async markSent(row: OutboxRow, channel: string, ts: string): Promise<void> {
    const at = this.now().toISOString();
    await this.deps.db.transaction().execute(async (trx) => {
      await trx.updateTable('slack_outbox').set({ status: 'sent', sent_ts: ts, error: null, updated_at: at }).where('id', '=', row.id).execute();
      if (!row.msg_key) return;
      await trx
        .insertInto('slack_messages')
        .values({ msg_key: row.msg_key, team_id: row.team_id, channel, ts, created_at: at })
        .onConflict((oc) => oc.column('msg_key').doNothing())
        .execute();
      // The rest of the app reads these columns to know a message exists (and where).
      const [kind, id] = splitKey(row.msg_key);
      if (kind === 'task' && id) await trx.updateTable('runs').set({ thread_ts: ts }).where('id', '=', id).where('thread_ts', 'is', null).execute();
      if (kind === 'card' && id) {
        await trx.updateTable('actions').set({ card_channel: channel, card_ts: ts, card_error: null }).where('id', '=', id).execute();
        // A card outside the task thread is linked from the task message, which needs the card's ts.
        const run = !row.thread_key && row.run_id ? await trx.selectFrom('runs').select(['id', 'team_id', 'channel_id']).where('id', '=', row.run_id).executeTakeFirst() : undefined;
        if (run && run.channel_id !== channel) await this.deps.outbox.updateTaskMessage(trx, run, 'now');
      }
      if (kind === 'notice' && id) await trx.updateTable('actions').set({ notice_ts: ts }).where('id', '=', id).execute();
    });
    this.resolved.set(row.msg_key ?? `row:${row.id}`, { channel, ts });
  }

  private async finish(row: Pick<OutboxRow, 'id'>, status: OutboxStatus, extra: { attempts?: number; error?: string; not_before?: string; sent_ts?: string | null }): Promise<void> {
    await this.deps.db
      .updateTable('slack_outbox')
      .set({ status, claimed_by: null, updated_at: this.now().toISOString(), ...extra })
      .where('id', '=', row.id)
      .execute();
  }
}

interface Target {
  method: string;
  channel: string;
  threadTs?: string | undefined;
  ts?: string;
  lookup: boolean;
}

function splitKey(key: string): [string, string | undefined] {
  const i = key.indexOf(':');
  return i < 0 ? [key, undefined] : [key.slice(0, i), key.slice(i + 1)];
}
