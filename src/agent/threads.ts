import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { claimEventKeys, isEventProcessed } from '../db/repos/events.js';
import { insertReply } from '../db/repos/replies.js';
import { getRun, lockRun, transitionRun } from '../db/repos/runs.js';
import { getWorkspace, settingsOf } from '../db/repos/workspace.js';
import type { Run } from '../db/schema.js';
import { AppError, isAppError } from '../errors.js';
import { clipped, code, md } from '../text/mrkdwn.js';
import type { RunControl } from './control.js';
import type { RunEngine } from './engine.js';
import { PRIORITY, type Outbox } from './outbox.js';
import { organisationRefusal } from './organisation.js';
import { formatThreadContext, type ThreadContextLimits, type ThreadRead } from './threadContext.js';

/** A person's message that reached the app: a mention in a channel, or a message in its DM. */
export interface IncomingMessage {
  /** Slack's event id: the same for every delivery of one event (retries included). */
  eventId: string;
  teamId: string;
  channelId: string;
  userId: string;
  /** The writer's own workspace or organisation, when Slack says (it differs in channels shared with another company). */
  orgId: string | undefined;
  /** What they wrote, with the app's own mention removed. */
  text: string;
  ts: string;
  /** The thread it was written in; undefined for a top-level message. */
  threadTs: string | undefined;
  surface: 'channel' | 'dm';
}

export type ConversationOutcome =
  | { kind: 'duplicate' }
  | { kind: 'started'; run: Run; contextMessages: number }
  | { kind: 'steered'; run: Run; state: 'next_turn' | 'after_approval' | 'continued' }
  | { kind: 'context'; run: Run }
  | { kind: 'not_requester'; run: Run }
  | { kind: 'refused'; message: string }
  | { kind: 'empty' };

export interface ThreadConversationDeps {
  db: Db;
  clock: Clock;
  engine: RunEngine;
  control: RunControl;
  outbox: Outbox;
  logger: Logger;
  limits: ThreadContextLimits;
}

/** Same limit as `/agent run`. */
const MAX_TASK_CHARS = 4000;

/** Shown on the thread when the run takes a reply; the reply itself is quoted escaped and cut. */
const QUOTE_MAX = 200;

/** What AI-surface threads suggest when they open (the person can pick one or type their own). */
export const SUGGESTED_PROMPTS = {
  title: 'Things I can do (anything that reaches other people waits for approval):',
  prompts: [
    { title: 'Search our knowledge base', message: 'Search the knowledge base for how approvals work and summarise it in three bullets.' },
    { title: 'Draft an email', message: 'Draft an email to the team about the Q2 results (I will approve it before it is sent).' },
    { title: 'Check a web page', message: 'Read https://example.com and tell me what it is about.' },
  ],
};

const eventKeys = (m: IncomingMessage): string[] => [`slack_event:${m.eventId}`, `slack_message:${m.teamId}:${m.channelId}:${m.ts}`];

/**
 * Talking to the agent where people already are. A message that mentions the app (or any DM to it)
 * starts a run whose task thread is the thread of that message; a later message in that thread from the
 * requester steers the run (see steering.ts). Every event is acted on at most once: its keys are claimed
 * in the transaction that acts on it, so Slack's retries and duplicate deliveries, before or after a
 * restart, change nothing.
 */
export class ThreadConversations {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: ThreadConversationDeps) {}

  /** Resolves when no message is being acted on (tests, graceful shutdown). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** The run a thread belongs to: the newest one the writer started there, else the newest one. */
  async runInThread(teamId: string, channelId: string, threadTs: string, userId: string): Promise<Run | undefined> {
    const runs = await this.deps.db
      .selectFrom('runs')
      .selectAll()
      .where('team_id', '=', teamId)
      .where('channel_id', '=', channelId)
      .where('thread_ts', '=', threadTs)
      .orderBy('created_at', 'desc')
      .execute();
    return runs.find((r) => r.requester_id === userId) ?? runs[0];
  }

  /**
   * Acts on one message. `readThread` reads the earlier messages of the thread from Slack; it is only
   * called when a mention inside an existing thread starts a run.
   */
  handle(msg: IncomingMessage, readThread: () => Promise<ThreadRead>, botUserId: string | undefined): Promise<ConversationOutcome> {
    return this.track(this.act(msg, readThread, botUserId));
  }

  private async act(msg: IncomingMessage, readThread: () => Promise<ThreadRead>, botUserId: string | undefined): Promise<ConversationOutcome> {
    if (await isEventProcessed(this.deps.db, eventKeys(msg)[0]!)) return { kind: 'duplicate' };
    // People of another organisation (Slack Connect) neither start runs here nor steer them.
    const foreign = msg.orgId ? await organisationRefusal(this.deps.db, msg.teamId, { userId: msg.userId, orgId: msg.orgId }) : undefined;
    if (foreign) return this.refuse(msg, 'Only people of this workspace can give me tasks or steer my runs; your account belongs to another organisation.');
    const root = msg.threadTs ?? msg.ts;
    const existing = msg.threadTs ? await this.runInThread(msg.teamId, msg.channelId, root, msg.userId) : undefined;
    if (existing) return existing.requester_id === msg.userId ? this.steer(existing, msg) : this.fromSomeoneElse(existing, msg);
    return this.start(msg, root, readThread, botUserId);
  }

  /** Answers that change nothing are still claimed, so a retried delivery does not answer twice. */
  private async claimOnly(msg: IncomingMessage): Promise<boolean> {
    return claimEventKeys(this.deps.db, eventKeys(msg), this.now());
  }

  private async refuse(msg: IncomingMessage, message: string): Promise<ConversationOutcome> {
    return (await this.claimOnly(msg)) ? { kind: 'refused', message } : { kind: 'duplicate' };
  }

  private async start(msg: IncomingMessage, root: string, readThread: () => Promise<ThreadRead>, botUserId: string | undefined): Promise<ConversationOutcome> {
    const task = msg.text.trim();
    if (!task) return (await this.claimOnly(msg)) ? { kind: 'empty' } : { kind: 'duplicate' };
    if (task.length > MAX_TASK_CHARS) return this.refuse(msg, `That task is ${task.length} characters; the limit is ${MAX_TASK_CHARS}.`);
    try {
      // The kill switch answers exactly as it does for `/agent run`.
      await this.deps.control.assertCanStart(msg.teamId);
    } catch (err) {
      if (isAppError(err, 'agent_disabled')) return this.refuse(msg, `:warning: ${err.message}`);
      throw err;
    }
    // Earlier messages matter only for a mention inside a thread someone else began; in a DM thread they
    // are the requester's own or the app's.
    const inThread = msg.threadTs !== undefined && msg.threadTs !== msg.ts && msg.surface === 'channel' && this.deps.limits.maxMessages > 0;
    const context = inThread ? formatThreadContext(await readThread(), this.deps.limits, botUserId) : { text: undefined, included: 0 };
    const at = this.now();
    let run: Run;
    try {
      run = await this.deps.engine.startRun({
        teamId: msg.teamId,
        channelId: msg.channelId,
        requesterId: msg.userId,
        task,
        threadTs: root,
        ...(context.text ? { untrustedContext: context.text } : {}),
        within: async (trx, started) => {
          if (!(await claimEventKeys(trx, eventKeys(msg), at))) throw new AppError('duplicate_event', `Event ${msg.eventId} was already handled`);
          await appendActivity(trx, {
            at,
            teamId: msg.teamId,
            runId: started.id,
            actor: msg.userId,
            kind: 'run_started_from_message',
            detail: { via: msg.surface === 'dm' ? 'dm' : 'mention', eventId: msg.eventId, ts: msg.ts, threadTs: root, contextMessages: context.included },
          });
          // In an AI-surface thread the status shows at once (queued behind the task message).
          if (await this.isAssistantThread(trx, msg.channelId, root)) await this.deps.outbox.threadStatus(trx, started);
        },
      });
    } catch (err) {
      if (isAppError(err, 'duplicate_event')) return { kind: 'duplicate' };
      throw err;
    }
    this.deps.outbox.wake();
    void this.deps.engine.kick(run.id);
    return { kind: 'started', run, contextMessages: context.included };
  }

  private async isAssistantThread(db: Db, channelId: string, threadTs: string): Promise<boolean> {
    const row = await db.selectFrom('assistant_threads').select('thread_ts').where('channel_id', '=', channelId).where('thread_ts', '=', threadTs).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * The requester's reply: taken at the run's next model turn while it works, given with the results
   * once the pending approvals are decided, or the start of a new turn once it has finished.
   */
  private async steer(run: Run, msg: IncomingMessage): Promise<ConversationOutcome> {
    const text = msg.text.trim();
    if (!text) return (await this.claimOnly(msg)) ? { kind: 'empty' } : { kind: 'duplicate' };
    try {
      // While the kill switch is on, a reply starts or continues nothing, with the `/agent run` answer.
      await this.deps.control.assertCanStart(run.team_id);
    } catch (err) {
      if (isAppError(err, 'agent_disabled')) return this.refuse(msg, `:warning: ${err.message}`);
      throw err;
    }
    const at = this.now();
    const { outbox } = this.deps;
    const quote = clipped(text.replace(/\s+/g, ' '), QUOTE_MAX);
    const result = await this.deps.db.transaction().execute(async (trx): Promise<ConversationOutcome> => {
      if (!(await claimEventKeys(trx, eventKeys(msg), at))) return { kind: 'duplicate' };
      await lockRun(trx, run.id);
      const fresh = (await getRun(trx, run.id)) ?? run;
      let state: 'next_turn' | 'after_approval' | 'continued';
      if (fresh.status === 'running') state = 'next_turn';
      else if (fresh.status === 'awaiting_approval') state = 'after_approval';
      else if (fresh.status === 'completed') state = 'continued';
      else {
        return {
          kind: 'refused',
          message: md`Run ${code(fresh.id)} is ${fresh.status.replace('_', ' ')}, so a reply cannot continue it. ${code(`/agent rerun ${fresh.id} <what you want>`)} starts it again with your message.`.value,
        };
      }
      if (state === 'continued') {
        const resumed = await transitionRun(trx, fresh.id, ['completed'], { status: 'running', finished_at: null, updated_at: at });
        if (!resumed) throw new AppError('invalid_state', `Run ${fresh.id} changed while a reply was being added`);
      }
      await insertReply(trx, { runId: fresh.id, teamId: fresh.team_id, authorId: msg.userId, kind: 'requester', text, channelId: msg.channelId, messageTs: msg.ts, at });
      await appendActivity(trx, { at, teamId: fresh.team_id, runId: fresh.id, actor: msg.userId, kind: 'reply_added', detail: { text: text.slice(0, 2000), state, eventId: msg.eventId } });
      const line =
        state === 'next_turn'
          ? md`:speech_balloon: Noted: “${quote}”. I'll take it into account at my next step.`
          : state === 'after_approval'
            ? md`:speech_balloon: Noted: “${quote}”. I'll read it once the pending approval is decided; approvals still decide every action.`
            : md`:arrow_forward: Continuing ${code(fresh.id)} with your reply: “${quote}”.`;
      await outbox.line(trx, fresh, line, PRIORITY.decision);
      if (state === 'continued') await outbox.updateTaskMessage(trx, fresh, 'now');
      return { kind: 'steered', run: fresh, state };
    });
    if (result.kind !== 'duplicate') outbox.wake();
    if (result.kind === 'steered' && result.state !== 'after_approval') void this.deps.engine.kick(run.id);
    return result;
  }

  /** Someone other than the requester wrote in the thread: never an instruction; context if allowed. */
  private async fromSomeoneElse(run: Run, msg: IncomingMessage): Promise<ConversationOutcome> {
    const allowed = settingsOf(await getWorkspace(this.deps.db, run.team_id)).othersReplies === 'context';
    const at = this.now();
    const text = msg.text.trim();
    return this.deps.db.transaction().execute(async (trx): Promise<ConversationOutcome> => {
      if (!(await claimEventKeys(trx, eventKeys(msg), at))) return { kind: 'duplicate' };
      await lockRun(trx, run.id);
      const fresh = (await getRun(trx, run.id)) ?? run;
      const active = fresh.status === 'running' || fresh.status === 'awaiting_approval';
      if (!allowed || !active || !text) {
        await appendActivity(trx, { at, teamId: fresh.team_id, runId: fresh.id, actor: msg.userId, kind: 'reply_ignored', detail: { why: !allowed ? 'not_requester' : !active ? 'run_not_active' : 'empty', eventId: msg.eventId } });
        return { kind: 'not_requester', run: fresh };
      }
      await insertReply(trx, { runId: fresh.id, teamId: fresh.team_id, authorId: msg.userId, kind: 'other', text, channelId: msg.channelId, messageTs: msg.ts, at });
      await appendActivity(trx, { at, teamId: fresh.team_id, runId: fresh.id, actor: msg.userId, kind: 'context_added', detail: { text: text.slice(0, 2000), eventId: msg.eventId } });
      return { kind: 'context', run: fresh };
    });
  }

  /**
   * Slack opened a thread on the app's AI surface: remember it (runs there show a status) and suggest
   * a few prompts. Once per event.
   */
  assistantThreadStarted(e: { eventId: string; teamId: string; channelId: string; threadTs: string; userId: string }): Promise<boolean> {
    return this.track(this.recordAssistantThread(e));
  }

  private async recordAssistantThread(e: { eventId: string; teamId: string; channelId: string; threadTs: string; userId: string }): Promise<boolean> {
    const at = this.now();
    const done = await this.deps.db.transaction().execute(async (trx) => {
      if (!(await claimEventKeys(trx, [`slack_event:${e.eventId}`], at))) return false;
      await trx
        .insertInto('assistant_threads')
        .values({ channel_id: e.channelId, thread_ts: e.threadTs, team_id: e.teamId, user_id: e.userId, created_at: at })
        .onConflict((oc) => oc.columns(['channel_id', 'thread_ts']).doNothing())
        .execute();
      await this.deps.outbox.suggestPrompts(trx, e.teamId, e.channelId, e.threadTs, SUGGESTED_PROMPTS.title, SUGGESTED_PROMPTS.prompts);
      return true;
    });
    if (done) this.deps.outbox.wake();
    return done;
  }
}
