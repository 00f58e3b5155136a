import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import type { OutboxOp, Run } from '../db/schema.js';
import type { Mrkdwn } from '../text/mrkdwn.js';
import { recentHomeViewers } from '../db/repos/homeViewers.js';

/** What the outbox needs of a run to address its messages. */
type RunRef = Pick<Run, 'id' | 'team_id' | 'channel_id'>;

/**
 * What the agent asks to show in Slack. Stored as JSON in `slack_outbox` and rendered when it is sent, so
 * a message that waited behind a rate limit shows the latest state, not the state when it was queued.
 * Text fields are safe mrkdwn (built with `md`), except `final`, which is the model's own answer and is
 * rendered by the Slack layer's answer formatter.
 */
export const outboxPayloadSchema = z.discriminatedUnion('kind', [
  /** The task message; `responseUrl` lets the requester hear privately if it cannot be posted. */
  z.object({ kind: z.literal('task'), runId: z.string(), responseUrl: z.string().optional() }),
  z.object({ kind: z.literal('card'), actionId: z.string() }),
  z.object({ kind: z.literal('line'), text: z.string() }),
  z.object({ kind: z.literal('final'), text: z.string(), note: z.string().optional() }),
  z.object({ kind: z.literal('notice'), text: z.string(), undoActionId: z.string().optional() }),
  z.object({ kind: z.literal('retry'), text: z.string(), runId: z.string() }),
  z.object({ kind: z.literal('capstop'), text: z.string(), runId: z.string(), cap: z.string() }),
  /** Pre-rendered content (run-control resolutions, digests, DMs). */
  z.object({ kind: z.literal('static'), text: z.string(), blocks: z.array(z.record(z.string(), z.unknown())).optional() }),
  /** AI-surface DM threads: the run's status under the thread ("is working…"), from its state when sent. */
  z.object({ kind: z.literal('status'), runId: z.string() }),
  /** A user's App Home tab: rendered for them from the database when it is published. */
  z.object({ kind: z.literal('home'), userId: z.string() }),
  /** AI-surface DM threads: suggested prompts shown when a thread opens. */
  z.object({
    kind: z.literal('prompts'),
    title: z.string().optional(),
    prompts: z.array(z.object({ title: z.string(), message: z.string() })),
  }),
]);
export type OutboxPayload = z.infer<typeof outboxPayloadSchema>;

/** Lower goes first when Slack's limits make messages wait. Progress never overtakes decisions. */
export const PRIORITY = { decision: 0, normal: 1, progress: 2 } as const;
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];

export const taskKey = (runId: string): string => `task:${runId}`;
export const cardKey = (actionId: string): string => `card:${actionId}`;
export const noticeKey = (actionId: string): string => `notice:${actionId}`;
/** A message the app did not post itself (or knows by its ts): delivery resolves it without a lookup. */
export const messageKey = (channel: string, ts: string): string => `ts:${channel}:${ts}`;
export const statusKey = (runId: string): string => `status:${runId}`;
export const homeKey = (teamId: string, userId: string): string => `home:${teamId}:${userId}`;

/** How soon a task-message update goes out: progress waits so several steps fold into one update. */
export type Urgency = 'now' | 'soon';

export interface OutboxSettings {
  /** Delay of progress-only task-message updates (they are merged while they wait). */
  progressDelayMs: number;
  /**
   * How long a card that was just approved waits before saying "approved — running now": when the
   * action is done within this time (usually), the card goes straight to its result in one update.
   */
  settleMs: number;
  /** App Home views: see HomeSettings. Defaults apply when left out. */
  home?: Partial<HomeSettings>;
}

export interface HomeSettings {
  /** A change waits this long before the Home views it touches are published: a burst makes one publish. */
  delayMs: number;
  /** Only people who opened their Home tab within this time have it kept current. */
  recentMs: number;
  /** At most this many of a workspace's most recent Home viewers are republished per change. */
  maxViewers: number;
}

export const DEFAULT_HOME_SETTINGS: HomeSettings = { delayMs: 1500, recentMs: 24 * 3600_000, maxViewers: 200 };

interface Enqueue {
  teamId: string;
  runId: string | null;
  lane: string;
  key: string | null;
  op: OutboxOp;
  priority: Priority;
  channel: string;
  threadKey: string | null;
  payload: OutboxPayload;
  delayMs?: number;
}

/**
 * The agent's side of the Slack outbox: every method writes rows with the `db` it is given, so callers
 * pass their transaction and the message commits (or not) with the state change it reports. Delivery is
 * the Slack layer's job; `wake` tells it there is something new once the transaction has committed.
 */
export class Outbox {
  private wakeHook: () => void = () => undefined;

  private readonly home: HomeSettings;

  constructor(
    private readonly clock: Clock,
    private readonly settings: OutboxSettings,
  ) {
    this.home = { ...DEFAULT_HOME_SETTINGS, ...settings.home };
  }

  /** The delivery loop registers itself here (composition root). */
  onWake(hook: () => void): void {
    this.wakeHook = hook;
  }

  wake(): void {
    this.wakeHook();
  }

  private at(delayMs = 0): string {
    return new Date(this.clock.now().getTime() + delayMs).toISOString();
  }

  private async insert(db: Db, e: Enqueue): Promise<void> {
    const now = this.at();
    await db
      .insertInto('slack_outbox')
      .values({
        team_id: e.teamId,
        run_id: e.runId,
        lane: e.lane,
        msg_key: e.key,
        op: e.op,
        priority: e.priority,
        channel: e.channel,
        thread_key: e.threadKey,
        payload_json: JSON.stringify(e.payload),
        status: 'queued',
        attempts: 0,
        not_before: this.at(e.delayMs ?? 0),
        created_at: now,
        updated_at: now,
      })
      .execute();
  }

  /**
   * An update of a message that already has an update (or its post) waiting is folded into that row:
   * only the latest state is ever sent. A row already being sent is left alone and a new one queued.
   */
  private async upsertUpdate(db: Db, e: Enqueue): Promise<void> {
    const queued = await db
      .selectFrom('slack_outbox')
      .select(['id', 'op', 'not_before', 'priority'])
      .where('msg_key', '=', e.key)
      .where('status', '=', 'queued')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (queued) {
      const due = this.at(e.delayMs ?? 0);
      const merged = await db
        .updateTable('slack_outbox')
        .set({
          // A post keeps its own payload kind (it renders the latest state anyway); text payloads are replaced.
          ...(queued.op === 'update' || e.payload.kind === 'notice' || e.payload.kind === 'static' ? { payload_json: JSON.stringify(e.payload) } : {}),
          not_before: due < queued.not_before ? due : queued.not_before,
          priority: Math.min(queued.priority, e.priority),
          updated_at: this.at(),
        })
        .where('id', '=', queued.id)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      // Claimed for sending (by any instance) since it was read: it may render the older state, so the
      // new state gets a row of its own.
      if (Number(merged.numUpdatedRows) === 1) return;
    }
    await this.insert(db, e);
  }

  private runLane(run: Pick<Run, 'id'>): string {
    return `run:${run.id}`;
  }

  /**
   * The task message: a top-level message whose thread becomes the task thread, or, for a run started
   * from a message (a mention, a DM), the first reply in that message's thread.
   */
  async postTaskMessage(db: Db, run: Run, responseUrl?: string): Promise<void> {
    await this.refreshHomes(db, run.team_id);
    return this.insert(db, {
      teamId: run.team_id,
      runId: run.id,
      lane: this.runLane(run),
      key: taskKey(run.id),
      op: 'post',
      priority: PRIORITY.decision,
      channel: run.channel_id,
      threadKey: run.thread_ts ? messageKey(run.channel_id, run.thread_ts) : null,
      payload: { kind: 'task', runId: run.id, ...(responseUrl ? { responseUrl } : {}) },
    });
  }

  /**
   * Re-renders the task message; `soon` updates wait a little so that several steps fold into one. A run
   * in a DM thread of the app's AI surface also gets its thread status refreshed (the state changed).
   */
  async updateTaskMessage(db: Db, run: Pick<Run, 'id' | 'team_id' | 'channel_id'>, urgency: Urgency): Promise<void> {
    await this.upsertTaskUpdate(db, run, urgency);
    // A state change (not mere progress) may change what Home tabs list.
    if (urgency === 'now') await this.refreshHomes(db, run.team_id);
    if (await inAssistantThread(db, run.id)) await this.threadStatus(db, run);
  }

  private upsertTaskUpdate(db: Db, run: Pick<Run, 'id' | 'team_id' | 'channel_id'>, urgency: Urgency): Promise<void> {
    return this.upsertUpdate(db, {
      teamId: run.team_id,
      runId: run.id,
      lane: this.runLane(run),
      key: taskKey(run.id),
      op: 'update',
      priority: urgency === 'now' ? PRIORITY.decision : PRIORITY.progress,
      channel: run.channel_id,
      threadKey: null,
      payload: { kind: 'task', runId: run.id },
      delayMs: urgency === 'now' ? 0 : this.settings.progressDelayMs,
    });
  }

  /**
   * The status Slack shows under an AI-surface thread, rendered from the run's state when it is sent.
   * Slack clears it whenever the app posts in the thread, so it queues behind the run's waiting posts;
   * only the latest matters, so a status still waiting is replaced.
   */
  async threadStatus(db: Db, run: Pick<Run, 'id' | 'team_id' | 'channel_id'>): Promise<void> {
    await db.deleteFrom('slack_outbox').where('msg_key', '=', statusKey(run.id)).where('status', '=', 'queued').execute();
    await this.insert(db, {
      teamId: run.team_id,
      runId: run.id,
      lane: this.runLane(run),
      key: statusKey(run.id),
      op: 'assistant',
      priority: PRIORITY.progress,
      channel: run.channel_id,
      threadKey: taskKey(run.id),
      payload: { kind: 'status', runId: run.id },
    });
  }

  /** Suggested prompts of an AI-surface thread that just opened. */
  suggestPrompts(db: Db, teamId: string, channel: string, threadTs: string, title: string, prompts: Array<{ title: string; message: string }>): Promise<void> {
    return this.insert(db, {
      teamId,
      runId: null,
      lane: `chan:${channel}`,
      key: null,
      op: 'assistant',
      priority: PRIORITY.normal,
      channel,
      threadKey: messageKey(channel, threadTs),
      payload: { kind: 'prompts', title, prompts },
    });
  }

  /** A post in the run's task thread (it waits for the task message's ts, in the run's lane). */
  private threadPost(db: Db, run: RunRef, priority: Priority, payload: OutboxPayload, key: string | null = null): Promise<void> {
    return this.insert(db, { teamId: run.team_id, runId: run.id, lane: this.runLane(run), key, op: 'post', priority, channel: run.channel_id, threadKey: taskKey(run.id), payload });
  }

  /** An update of one of the run's messages (folded into a queued one for the same key). */
  private runUpdate(db: Db, run: RunRef, key: string, payload: OutboxPayload, delayMs = 0): Promise<void> {
    return this.upsertUpdate(db, { teamId: run.team_id, runId: run.id, lane: this.runLane(run), key, op: 'update', priority: PRIORITY.decision, channel: run.channel_id, threadKey: null, payload, delayMs });
  }

  /** A line in the task thread. */
  line(db: Db, run: RunRef, text: Mrkdwn, priority: Priority = PRIORITY.normal): Promise<void> {
    return this.threadPost(db, run, priority, { kind: 'line', text: text.value });
  }

  /** The run's answer: model text, formatted safely by the Slack layer. */
  finalAnswer(db: Db, run: Run, text: string, note?: Mrkdwn): Promise<void> {
    return this.threadPost(db, run, PRIORITY.decision, { kind: 'final', text, ...(note ? { note: note.value } : {}) });
  }

  /** An approval card: in `route` (the approvals channel) or, when undefined, the task thread. */
  async postCard(db: Db, run: Run, actionId: string, route: string | undefined): Promise<void> {
    await this.refreshHomes(db, run.team_id);
    const elsewhere = route !== undefined && route !== run.channel_id;
    return this.insert(db, {
      teamId: run.team_id,
      runId: run.id,
      lane: this.runLane(run),
      key: cardKey(actionId),
      op: 'post',
      priority: PRIORITY.decision,
      channel: elsewhere ? route : run.channel_id,
      threadKey: elsewhere ? null : taskKey(run.id),
      payload: { kind: 'card', actionId },
    });
  }

  /** Re-renders a card from the database (after a decision, a dispatch, a cancel). */
  async updateCard(db: Db, run: RunRef, actionId: string, opts: { settle?: boolean } = {}): Promise<void> {
    await this.refreshHomes(db, run.team_id);
    return this.runUpdate(db, run, cardKey(actionId), { kind: 'card', actionId }, opts.settle ? this.settings.settleMs : 0);
  }

  notice(db: Db, run: Run, actionId: string, text: Mrkdwn, undo: boolean): Promise<void> {
    return this.threadPost(db, run, PRIORITY.normal, { kind: 'notice', text: text.value, ...(undo ? { undoActionId: actionId } : {}) }, noticeKey(actionId));
  }

  updateNotice(db: Db, run: Run, actionId: string, text: Mrkdwn): Promise<void> {
    return this.runUpdate(db, run, noticeKey(actionId), { kind: 'notice', text: text.value });
  }

  /** A failed run's message with a Retry button. */
  retry(db: Db, run: RunRef, text: Mrkdwn): Promise<void> {
    return this.threadPost(db, run, PRIORITY.decision, { kind: 'retry', text: text.value, runId: run.id });
  }

  capStop(db: Db, run: RunRef, text: Mrkdwn, cap: string): Promise<void> {
    return this.threadPost(db, run, PRIORITY.decision, { kind: 'capstop', text: text.value, runId: run.id, cap });
  }

  /**
   * A user's Home tab, rendered for them when it is published. A publish still waiting is kept (it renders
   * the latest state anyway), only brought forward, so a burst of changes makes one publish per user.
   */
  async publishHome(db: Db, teamId: string, userId: string, delayMs = this.home.delayMs): Promise<void> {
    const key = homeKey(teamId, userId);
    const queued = await db.selectFrom('slack_outbox').select(['id', 'not_before']).where('msg_key', '=', key).where('status', '=', 'queued').executeTakeFirst();
    const due = this.at(delayMs);
    if (queued) {
      if (due < queued.not_before) await db.updateTable('slack_outbox').set({ not_before: due, updated_at: this.at() }).where('id', '=', queued.id).where('status', '=', 'queued').execute();
      return;
    }
    await this.insert(db, { teamId, runId: null, lane: `home:${teamId}`, key, op: 'home', priority: PRIORITY.progress, channel: userId, threadKey: null, payload: { kind: 'home', userId }, delayMs });
  }

  /**
   * Something Home tabs show changed in this workspace (a card, a decision, a run's state): the Home of
   * each recent viewer is republished once the burst is over. Only recent viewers: the app never
   * publishes a Home for every member of a workspace.
   */
  async refreshHomes(db: Db, teamId: string): Promise<void> {
    const viewers = await recentHomeViewers(db, teamId, this.at(-this.home.recentMs), this.home.maxViewers);
    if (viewers.length === 0) return;
    const waiting = await db.selectFrom('slack_outbox').select('msg_key').where('lane', '=', `home:${teamId}`).where('status', '=', 'queued').execute();
    const queued = new Set(waiting.map((r) => r.msg_key));
    for (const userId of viewers) if (!queued.has(homeKey(teamId, userId))) await this.publishHome(db, teamId, userId);
  }

  /** A top-level message in a channel, or a DM when `channel` is a user id. */
  toChannel(db: Db, teamId: string, channel: string, text: Mrkdwn, blocks?: Array<Record<string, unknown>>): Promise<void> {
    return this.insert(db, {
      teamId,
      runId: null,
      lane: `chan:${channel}`,
      key: null,
      op: 'post',
      priority: PRIORITY.normal,
      channel,
      threadKey: null,
      payload: { kind: 'static', text: text.value, ...(blocks ? { blocks } : {}) },
    });
  }

  /** Replaces a message the app posted outside the outbox's keys (e.g. the one a button was on). */
  replaceMessage(db: Db, teamId: string, channel: string, ts: string, text: Mrkdwn, blocks?: Array<Record<string, unknown>>): Promise<void> {
    return this.upsertUpdate(db, {
      teamId,
      runId: null,
      lane: `chan:${channel}`,
      key: `ts:${channel}:${ts}`,
      op: 'update',
      priority: PRIORITY.decision,
      channel,
      threadKey: null,
      payload: { kind: 'static', text: text.value, ...(blocks ? { blocks } : {}) },
    });
  }
}

/** Whether the run lives in a DM thread Slack opened on the app's AI surface (it then shows a status). */
async function inAssistantThread(db: Db, runId: string): Promise<boolean> {
  const row = await db
    .selectFrom('runs')
    .innerJoin('assistant_threads', (j) => j.onRef('assistant_threads.channel_id', '=', 'runs.channel_id').onRef('assistant_threads.thread_ts', '=', 'runs.thread_ts'))
    .select('runs.id')
    .where('runs.id', '=', runId)
    .executeTakeFirst();
  return row !== undefined;
}
