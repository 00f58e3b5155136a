import { requesterPing } from './deciders.js';
import { editNoteForModel } from './edits.js';
import { editsOf } from './editLog.js';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { actionResult, countPendingApprovals, getAction, listTurnActions, transitionAction } from '../db/repos/actions.js';
import { appendActivity } from '../db/repos/activity.js';
import { appendMessage, listMessages, type ConversationMessage, type StoredBlock } from '../db/repos/messages.js';
import { insertModelCall } from '../db/repos/modelCalls.js';
import { getRun, insertRun, listRunIdsByStatus, lockRun, transitionRun, updateRun } from '../db/repos/runs.js';
import { getWorkspace } from '../db/repos/workspace.js';
import type { Action, Run, RunStatus } from '../db/schema.js';
import { AppError, errorMessage, isAppError } from '../errors.js';
import type { IdGenerator } from '../ids.js';
import type { ToolRegistry } from '../tools/registry.js';
import { buildCardView, describeAction, reasoningOf } from './cards.js';
import { POLICY_ACTOR, type Dispatcher } from './dispatcher.js';
import { ModelCallError, type ModelClient, type ModelResponse } from './modelClient.js';
import { costUsd, priceFor } from './pricing.js';
import { buildFirstUserMessage, buildSystemPrompt } from './prompt.js';
import { classifyTurn, storeProposals } from './proposals.js';
import type { QueueThresholds } from './policyContext.js';
import { cardKey, PRIORITY, taskKey, type Outbox } from './outbox.js';
import { md, mention, trusted, type Mrkdwn } from '../text/mrkdwn.js';
import { findActionType } from '../policy/catalog.js';
import type { CapsService } from './capsService.js';
import { RunSlots } from './slots.js';
import type { Foreground } from '../foreground.js';
import type { RunLeases } from '../cluster/runLeases.js';
import { describeCapStop, type CapCheck } from '../policy/caps.js';
import { continuesInstead, shouldContinue, takePendingReplies, toApiMessages } from './steering.js';

export interface EngineSettings {
  model: string;
  /** Bounded so one call's cost is bounded. */
  maxTokens: number;
  /** Used once when a tool call was cut off by max_tokens. */
  maxTokensRetry: number;
  queue: QueueThresholds;
  /** Runs of one workspace calling the model at once, across instances; the rest wait in FIFO order. */
  maxConcurrentRuns: number;
}

export interface EngineDeps {
  db: Db;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  model: ModelClient;
  /** Every Slack message goes through the persisted outbox, written in the same transaction as the change. */
  outbox: Outbox;
  registry: ToolRegistry;
  dispatcher: Dispatcher;
  settings: EngineSettings;
  /** Where a workspace's cards go (channel id), or undefined for the task thread. */
  cardRoute(teamId: string): Promise<string | undefined>;
  caps: CapsService;
  /** Which runs this instance may advance (one instance per run at a time). */
  leases: RunLeases;
  /** Each step waits its turn behind requests being answered (src/foreground.ts). */
  foreground?: Foreground;
}

export interface StartRunInput {
  /** A run id handed out earlier (so a command can ack with it before the insert); new when absent. */
  id?: string;
  teamId: string;
  channelId: string;
  requesterId: string;
  task: string;
  parentRunId?: string | null;
  extraContext?: string | null;
  /** The slash command's response_url: where the requester hears if the task message cannot be posted. */
  responseUrl?: string;
  /**
   * Started from a message (a mention, a DM): the thread it lives in, whose first reply becomes the task
   * message and where everything the run says goes.
   */
  threadTs?: string;
  /** Earlier thread messages, already labelled as untrusted: a block of its own in the first message. */
  untrustedContext?: string;
  /** Runs last inside the transaction that stores the run (claims the event that started it; may throw to undo). */
  within?: (trx: Db, run: Run) => Promise<void>;
}

/** `model`: the next step is a model call, which needs a concurrency slot. */
type StepResult = 'continue' | 'idle' | 'model';

const ACTIVE: readonly RunStatus[] = ['running', 'awaiting_approval'];

/** A chain that keeps finding its run `running` without moving it on gives up after this many looks. */
const MAX_IDLE_ROUNDS = 5;

/**
 * The durable run loop. Every step starts from what is in the database and persists its effects before
 * the next one, so a run can stop at any point (crash, approval wait) and be resumed by any process.
 * Nothing about a suspended run is held in memory. Several instances may share the database: a run is
 * advanced only by the instance holding its lease (src/cluster/runLeases.ts).
 */
export class RunEngine {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Runs of this instance whose current step is a dispatch (their lease is kept until it is recorded). */
  private readonly dispatching = new Set<string>();
  private stopped = false;

  private readonly slots: RunSlots;
  private readonly leases: RunLeases;
  private readonly warnedModels = new Set<string>();

  constructor(private readonly deps: EngineDeps) {
    this.leases = deps.leases;
    this.slots = new RunSlots({
      db: deps.db,
      owner: deps.leases.owner,
      limit: () => deps.settings.maxConcurrentRuns,
      // Only the run that just joined the queue is re-rendered: refreshing every queued task message on
      // each change would be quadratic in Slack calls (and hit chat.update's rate limit).
      onQueued: (runId) => void this.updateTaskMessage(runId, 'soon'),
    });
  }

  /** This instance's id (lease owner). */
  get instanceId(): string {
    return this.leases.owner;
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  async startRun(input: StartRunInput): Promise<Run> {
    const { db, ids, registry, settings } = this.deps;
    const at = this.now();
    const run: Run = {
      id: input.id ?? ids.runId(),
      team_id: input.teamId,
      channel_id: input.channelId,
      thread_ts: input.threadTs ?? null,
      requester_id: input.requesterId,
      task: input.task,
      status: 'running',
      model: settings.model,
      spend_usd: 0,
      turns: 0,
      parent_run_id: input.parentRunId ?? null,
      extra_context: input.extraContext ?? null,
      system_prompt: buildSystemPrompt({ today: at.slice(0, 10), requesterId: input.requesterId, channelId: input.channelId }),
      tools_json: registry.apiToolsJson(),
      task_status: 'in_progress',
      subtasks_json: '[]',
      cost_cap_usd: null,
      max_turns: null,
      error_code: null,
      error_message: null,
      created_at: at,
      updated_at: at,
      finished_at: null,
      lease_owner: null,
      lease_expires_at: null,
      slot_held: 0,
      queued_at: null,
    };
    await db.transaction().execute(async (trx) => {
      await insertRun(trx, run);
      await appendMessage(trx, {
        runId: run.id,
        role: 'user',
        content: [
          { type: 'text', text: buildFirstUserMessage(input.task, input.extraContext ?? null) },
          ...(input.untrustedContext ? [{ type: 'text', text: input.untrustedContext }] : []),
        ],
        at,
      });
      await appendActivity(trx, {
        at,
        teamId: run.team_id,
        runId: run.id,
        actor: input.requesterId,
        kind: 'run_started',
        detail: { task: input.task, channel: input.channelId, parentRunId: run.parent_run_id },
      });
      // The task message is queued with the run: once the command is acknowledged, neither can be lost.
      await this.deps.outbox.postTaskMessage(trx, run, input.responseUrl);
      if (input.within) await input.within(trx, run);
    });
    this.deps.outbox.wake();
    return run;
  }

  /** The queue position shown on a queued run's task message (the workspace's queue, across instances). */
  queuePosition(teamId: string, runId: string): Promise<number | undefined> {
    return this.slots.position(teamId, runId);
  }

  /**
   * The outbox could not post the run's task message (e.g. the bot is not in the channel): the run
   * cannot be followed, so it fails, and the requester is told privately where they typed the command.
   */
  async taskMessageUndeliverable(runId: string, why: string): Promise<void> {
    await this.endRun(runId, 'failed', 'slack_post_failed', `Could not post the task message: ${why}`, { announce: 'none' });
  }

  /** A card that cannot be posted anywhere: nothing can be approved, so the run fails and says why. */
  async cardUndeliverable(actionId: string, why: string): Promise<void> {
    const action = await getAction(this.deps.db, actionId);
    if (!action) return;
    await this.endRun(action.run_id, 'failed', 'card_post_failed', `I could not post the approval card for "${describeAction(this.deps.registry, action).summary}" (${why}). Nothing was sent.`);
  }

  /**
   * Schedules the run to advance in this instance, if it can take the run's lease (otherwise the
   * instance holding it carries on: see `runChain`). Steps of one run never overlap; a kick during a
   * step makes the loop look again when the step ends. Returns when the run has nothing more to do here.
   */
  kick(runId: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const existing = this.chains.get(runId);
    if (existing) {
      this.again.add(runId);
      return existing;
    }
    this.again.delete(runId);
    const chain = this.runChain(runId)
      .catch((err: unknown) => this.deps.logger.error({ err: errorMessage(err), runId }, 'run chain failed'))
      .finally(() => {
        this.chains.delete(runId);
        // A kick that arrived after the loop's last look would otherwise be lost.
        if (this.again.has(runId) && !this.stopped) {
          this.again.delete(runId);
          void this.kick(runId);
        }
      });
    this.chains.set(runId, chain);
    return chain;
  }

  /**
   * One instance's turn with a run: take the lease, settle what a gone instance left mid-dispatch,
   * advance, release. The release is conditional on the run not being `running`: a decision committed
   * on another instance while this one still held the lease (its own kick found the lease taken) makes
   * the release fail, and this instance carries on, so a click is never stranded.
   */
  private async runChain(runId: string): Promise<void> {
    await this.deps.foreground?.turn();
    if (this.stopped || !(await this.leases.claim(runId))) return;
    let release: 'idle' | 'handover' | 'cooldown' | 'done' = 'handover';
    try {
      await this.settleInterrupted(runId);
      for (let refused = 0; ; ) {
        this.again.delete(runId);
        await this.advanceOnce(runId);
        if (this.stopped) return;
        if (this.again.has(runId)) continue;
        const released = await this.leases.release(runId, 'idle');
        if (released !== 'running') {
          release = 'done';
          return;
        }
        if (++refused >= MAX_IDLE_ROUNDS) {
          this.deps.logger.warn({ runId }, 'run is running but makes no progress; leaving it for a later sweep');
          release = 'cooldown';
          return;
        }
      }
    } finally {
      if (release !== 'done') await this.leases.release(runId, release === 'cooldown' ? 'cooldown' : 'handover').catch(() => undefined);
    }
  }

  /** Steps without a slot as far as possible (dispatching an approved action needs none), then with one. */
  private async advanceOnce(runId: string): Promise<void> {
    // Steps that call no model (dispatching an approved action, posting cards) need no slot: a click
    // is carried out at once even when the workspace's runs are queued.
    if ((await this.advance(runId, false)) !== 'model' && !this.again.has(runId)) return;
    const run = await getRun(this.deps.db, runId);
    if (!run || run.status !== 'running') return;
    // A run resuming after an approval (it has taken turns) goes ahead of runs that have not started.
    if ((await this.slots.acquire(run.team_id, runId, run.turns > 0)) !== 'granted') return;
    try {
      do {
        this.again.delete(runId);
        await this.advance(runId, true);
      } while (this.again.has(runId) && !this.stopped);
    } finally {
      await this.slots.release(run.team_id, runId);
    }
  }

  /** An action left `dispatching` by the run's previous lease holder (gone) may or may not have happened. */
  private async settleInterrupted(runId: string): Promise<void> {
    const left = await this.deps.db.selectFrom('actions').selectAll().where('run_id', '=', runId).where('status', '=', 'dispatching').execute();
    for (const action of left) await this.markOutcomeUnknown(action);
  }

  /** Waits until no run is advancing in this process (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) {
      await Promise.allSettled([...this.chains.values()]);
    }
  }

  /**
   * Shutdown: no new step starts; steps in flight get up to `drainMs` to finish, then every lease is
   * handed over (another instance takes the runs at its next sweep), except those of runs in the middle
   * of a dispatch: their outcome is still being recorded, and if this process exits first, the lease
   * expires and the next holder marks the action outcome_unknown.
   */
  async stop(drainMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.stopped = true;
    this.slots.drain();
    let timer: NodeJS.Timeout | undefined;
    const bound = Number.isFinite(drainMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs))) : undefined;
    await (bound ? Promise.race([this.idle(), bound]) : this.idle());
    if (timer) clearTimeout(timer);
    for (const runId of this.chains.keys()) {
      if (!this.dispatching.has(runId)) await this.leases.release(runId, 'handover').catch(() => undefined);
    }
  }

  /**
   * At startup: repairs left by older versions, then takes the runs no live instance is advancing. An
   * action left `dispatching` is settled (outcome_unknown) only by the instance that takes over its run,
   * which it can only do once the dispatching instance's lease has expired: never because this one started.
   */
  async recover(): Promise<{ resumed: string[] }> {
    // A run suspended for approval whose cards are all decided was interrupted before it resumed. One
    // query, not one per suspended run: with thousands suspended that loop was most of the start-up.
    const allDecided = await this.deps.db
      .selectFrom('runs')
      .select('id')
      .where('status', '=', 'awaiting_approval')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('actions').select('actions.id').whereRef('actions.run_id', '=', 'runs.id').where('actions.status', '=', 'pending'))))
      .execute();
    for (const { id } of allDecided) await transitionRun(this.deps.db, id, ['awaiting_approval'], { status: 'running', updated_at: this.now() });
    // Runs stored before the outbox existed, or whose task message row is missing: queue it once.
    const untracked = await this.deps.db
      .selectFrom('runs')
      .selectAll()
      .where('thread_ts', 'is', null)
      .where('status', 'in', [...ACTIVE])
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('slack_outbox').select('id').whereRef('slack_outbox.msg_key', '=', sql<string>`'task:' || runs.id`))))
      .execute();
    for (const run of untracked) {
      // Two instances starting together: the run's lock makes the second see the first one's row.
      await this.deps.db.transaction().execute(async (trx) => {
        await lockRun(trx, run.id);
        const queued = await trx.selectFrom('slack_outbox').select('id').where('msg_key', '=', taskKey(run.id)).executeTakeFirst();
        if (!queued) await this.deps.outbox.postTaskMessage(trx, run);
      });
    }
    if (untracked.length > 0) this.deps.outbox.wake();
    return { resumed: await this.sweep() };
  }

  /**
   * Runs that need an instance (new, handed over, or whose instance is gone: lease expired) are taken by
   * whichever instance claims them first; waiters for a slot look again (slots freed elsewhere). Called at
   * startup and periodically.
   */
  async sweep(): Promise<string[]> {
    if (this.stopped) return [];
    const ids = (await this.leases.orphans()).filter((id) => !this.chains.has(id));
    for (const id of ids) void this.kick(id);
    this.slots.poke();
    return ids;
  }

  /** Steps the run until it is idle, or (without `allowModel`) until its next step is a model call. */
  private async advance(runId: string, allowModel: boolean): Promise<'idle' | 'model'> {
    // A bound on steps per kick guards against a logic error spinning forever; real runs stop far earlier
    // (turn caps, approvals).
    for (let i = 0; i < 1000 && !this.stopped; i++) {
      await this.deps.foreground?.turn();
      if (this.stopped) return 'idle';
      let result: StepResult;
      try {
        result = await this.step(runId, allowModel);
      } catch (err) {
        this.deps.logger.error({ err, runId }, 'run step failed unexpectedly');
        await this.failRun(runId, 'internal_error', `Something went wrong inside the app: ${errorMessage(err)}`);
        return 'idle';
      }
      if (result !== 'continue') return result;
    }
    return 'idle';
  }

  private async step(runId: string, allowModel = true): Promise<StepResult> {
    const run = await getRun(this.deps.db, runId);
    if (!run || run.status !== 'running') return 'idle';
    // Our lease expired and another instance took the run: it carries on, not us.
    if (run.lease_owner !== this.leases.owner) return 'idle';
    const workspace = await getWorkspace(this.deps.db, run.team_id);
    if (workspace.disabled) {
      await this.stopRun(run, 'agent_disabled', `The agent was disabled by an admin${workspace.disabledReason ? `: ${workspace.disabledReason}` : ''}. This run stopped.`);
      return 'idle';
    }
    const messages = await listMessages(this.deps.db, run.id);
    const last = messages.at(-1);
    if (!last) throw new AppError('invalid_state', `Run ${run.id} has no messages`);
    if (last.role === 'assistant') {
      if (last.stopReason === 'tool_use') return this.processTurn(run, last);
      // A requester's reply to a finished turn is a new turn of the same run (caps checked as always).
      if (last.stopReason !== 'pause_turn' && !(await shouldContinue(this.deps.db, run.id))) return this.finish(run, last);
    }
    if (!allowModel) return 'model';
    return this.callModel(run, messages);
  }

  // ---- model turns -------------------------------------------------------------------------------

  private async callModel(run: Run, messages: ConversationMessage[]): Promise<StepResult> {
    const { settings } = this.deps;
    const capCheck = await this.deps.caps.check(run);
    if (!capCheck.ok) {
      await this.stopForCap(run, capCheck);
      return 'idle';
    }

    // Replies written in the thread since the last call join the conversation now.
    messages = await takePendingReplies(this.deps.db, run.id, messages, this.now());
    const nextSeq = (messages.at(-1)?.seq ?? -1) + 1;
    let maxTokens = settings.maxTokens;
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      let response: ModelResponse;
      try {
        response = await this.deps.model.create({
          model: run.model,
          maxTokens,
          system: run.system_prompt,
          tools: JSON.parse(run.tools_json) as unknown[],
          messages: toApiMessages(messages),
        });
      } catch (err) {
        const message = err instanceof ModelCallError ? err.message : `Could not call Claude: ${errorMessage(err)}`;
        const text = `${message}. The run stopped here; nothing was lost. Retry resumes from the last completed step (no tool runs twice), or use \`/agent rerun ${run.id}\`.`;
        await this.endRun(run.id, 'failed', 'model_call_failed', text, { announce: 'retry' });
        return 'idle';
      }
      const cost = costUsd(run.model, response.usage);
      if (!priceFor(run.model).known && !this.warnedModels.has(run.model)) {
        this.warnedModels.add(run.model);
        this.deps.logger.warn({ model: run.model }, 'no price known for this model: spend is counted at the most expensive known rate');
      }
      const truncatedToolCall = response.stopReason === 'max_tokens' && response.content.some((b) => b.type === 'tool_use');
      if (truncatedToolCall && attempt === 0) {
        // A tool call cut off mid-input cannot be executed; pay for it, and ask once more with room to finish.
        const kept = await this.recordModelCall(run, response, cost, Date.now() - started, null, nextSeq);
        if (!kept) return 'idle';
        run = { ...run, spend_usd: run.spend_usd + cost, turns: run.turns + 1 };
        maxTokens = settings.maxTokensRetry;
        continue;
      }
      const seq = await this.recordModelCall(run, response, cost, Date.now() - started, response.content, nextSeq, truncatedToolCall);
      if (seq === null) return 'idle';
      return this.afterModelCall({ ...run, spend_usd: run.spend_usd + cost, turns: run.turns + 1 }, response, seq, truncatedToolCall);
    }
  }

  /**
   * Stores the call's usage and (when given) the assistant message with its classified tool calls, in one
   * transaction and only if the run is still running: a run cancelled while Claude was thinking keeps
   * the spend but not the answer. Returns the message seq, or null when the run moved on.
   */
  private async recordModelCall(
    run: Run,
    response: ModelResponse,
    cost: number,
    durationMs: number,
    content: StoredBlock[] | null,
    /** The seq the assistant message will get: one past the conversation the call was made with. */
    nextSeq: number,
    truncated = false,
  ): Promise<number | null> {
    const { db } = this.deps;
    const at = this.now();
    const proposals =
      content && response.stopReason === 'tool_use' && !truncated
        ? await classifyTurn({ ...this.deps, queue: this.deps.settings.queue, run, messageSeq: nextSeq, content })
        : [];
    return db.transaction().execute(async (trx) => {
      await lockRun(trx, run.id);
      const fresh = await getRun(trx, run.id);
      await insertModelCall(trx, {
        run_id: run.id,
        team_id: run.team_id,
        user_id: run.requester_id,
        model: run.model,
        input_tokens: response.usage.inputTokens,
        output_tokens: response.usage.outputTokens,
        cache_read_tokens: response.usage.cacheReadTokens,
        cache_write_5m_tokens: response.usage.cacheWrite5mTokens,
        cache_write_1h_tokens: response.usage.cacheWrite1hTokens,
        cost_usd: cost,
        stop_reason: response.stopReason,
        duration_ms: durationMs,
        at,
      });
      await updateRun(trx, run.id, {
        spend_usd: (fresh?.spend_usd ?? run.spend_usd) + cost,
        turns: (fresh?.turns ?? run.turns) + 1,
        updated_at: at,
      });
      // Turns and spend show on the task message; progress waits so several turns fold into one update.
      await this.deps.outbox.updateTaskMessage(trx, run, 'soon');
      await appendActivity(trx, {
        at,
        teamId: run.team_id,
        runId: run.id,
        actor: 'agent',
        kind: 'model_call',
        detail: {
          model: run.model,
          stopReason: response.stopReason,
          inputTokens: response.usage.inputTokens,
          outputTokens: response.usage.outputTokens,
          cacheReadTokens: response.usage.cacheReadTokens,
          costUsd: cost,
        },
      });
      // Cancelled while Claude was thinking, or taken over by another instance (our lease expired).
      if (!fresh || fresh.status !== 'running' || fresh.lease_owner !== this.leases.owner) return null;
      if (!content) return -1;
      const seq = await appendMessage(trx, {
        runId: run.id,
        role: 'assistant',
        content,
        stopReason: truncated ? 'max_tokens' : response.stopReason,
        at,
      });
      if (seq !== nextSeq) throw new AppError('invalid_state', `Run ${run.id} advanced concurrently`);
      await storeProposals(trx, run, proposals, at);
      return seq;
    });
  }

  private async afterModelCall(run: Run, response: ModelResponse, seq: number, truncatedToolCall: boolean): Promise<StepResult> {
    const stop = response.stopReason;
    if (truncatedToolCall) {
      await this.failRun(run.id, 'model_output_truncated', `Claude's answer was cut off twice while writing a tool call (output limit). Use \`/agent rerun ${run.id}\` with a narrower task.`);
      return 'idle';
    }
    switch (stop) {
      case 'tool_use':
      case 'pause_turn':
        return 'continue';
      case 'end_turn':
      case 'stop_sequence':
      case null:
      case 'max_tokens':
        return this.finish(run, { seq, role: 'assistant', content: response.content, stopReason: stop });
      case 'refusal':
        await this.failRun(run.id, 'model_refusal', 'Claude declined to continue this task (refusal). Nothing further was done.');
        return 'idle';
      case 'model_context_window_exceeded':
        await this.failRun(run.id, 'context_window_exceeded', `The conversation grew beyond Claude's context window. Use \`/agent rerun ${run.id}\` with a smaller task.`);
        return 'idle';
      default:
        await this.failRun(run.id, 'unknown_stop_reason', `Claude stopped for an unexpected reason (${stop}).`);
        return 'idle';
    }
  }

  private async finish(run: Run, last: ConversationMessage): Promise<StepResult> {
    const text = reasoningOf(last.content) ?? '(no answer text)';
    const cut = last.stopReason === 'max_tokens' ? '\n\n_(The answer was cut short: Claude reached its output limit.)_' : '';
    const at = this.now();
    const done = await this.deps.db.transaction().execute(async (trx) => {
      if (await continuesInstead(trx, run.id)) {
        // A reply came in while this turn was being written: its answer is shown, and the run goes on.
        await this.deps.outbox.finalAnswer(trx, run, text, cut ? trusted(cut) : undefined);
        return 'again';
      }
      if (!(await transitionRun(trx, run.id, ['running'], { status: 'completed', finished_at: at, updated_at: at }))) return false;
      await appendActivity(trx, { at, teamId: run.team_id, runId: run.id, actor: 'agent', kind: 'run_completed', detail: {} });
      await this.deps.outbox.finalAnswer(trx, run, text, cut ? trusted(cut) : undefined);
      await this.deps.outbox.updateTaskMessage(trx, run, 'now');
      return true;
    });
    if (done === 'again') {
      this.deps.outbox.wake();
      return 'continue';
    }
    if (done) this.deps.outbox.wake();
    return 'idle';
  }

  // ---- tool calls of a turn ----------------------------------------------------------------------

  private async processTurn(run: Run, turn: ConversationMessage): Promise<StepResult> {
    const { db } = this.deps;
    let actions = await listTurnActions(db, run.id, turn.seq);

    // Anything still `dispatching` here was left by a process that died mid-call.
    for (const a of actions.filter((x) => x.status === 'dispatching')) await this.markOutcomeUnknown(a);

    if (actions.some((a) => a.decision === 'refuse')) {
      await this.stopForQueue(run, actions);
      return 'idle';
    }

    for (const a of actions.filter((x) => x.status === 'approved' && x.decided_by === POLICY_ACTOR)) {
      await this.dispatchAndReport(run, a);
    }

    actions = await listTurnActions(db, run.id, turn.seq);
    if (actions.some((a) => a.status === 'pending')) {
      const route = await this.deps.cardRoute(run.team_id);
      // Cards are queued and the run suspended in one transaction: a card can only become visible (and
      // clickable) once the run is already waiting for it.
      const resume = await db.transaction().execute(async (trx) => {
        await lockRun(trx, run.id);
        const pending = (await listTurnActions(trx, run.id, turn.seq)).filter((a) => a.status === 'pending');
        if (pending.length === 0) return true; // decided meanwhile: carry on
        const queued = new Set(
          (await trx.selectFrom('slack_outbox').select('msg_key').where('msg_key', 'in', pending.map((a) => cardKey(a.id))).where('op', '=', 'post').execute()).map((r) => r.msg_key),
        );
        const fresh = (await getRun(trx, run.id)) ?? run;
        for (const a of pending) if (!queued.has(cardKey(a.id)) && !a.card_ts) await this.deps.outbox.postCard(trx, fresh, a.id, route);
        if (await transitionRun(trx, run.id, ['running'], { status: 'awaiting_approval', updated_at: this.now() })) {
          await this.deps.outbox.updateTaskMessage(trx, run, 'now');
        }
        return false;
      });
      this.deps.outbox.wake();
      return resume ? 'continue' : 'idle';
    }

    // Every card of the turn is decided: approved calls go out together (all-or-nothing per turn).
    for (const a of actions.filter((x) => x.status === 'approved')) {
      await this.dispatchAndReport(run, a);
    }

    actions = await listTurnActions(db, run.id, turn.seq);
    if (actions.some((a) => a.status === 'approved' || a.status === 'pending' || a.status === 'dispatching')) return 'idle';
    return this.appendToolResults(run, turn, actions);
  }

  private async appendToolResults(run: Run, turn: ConversationMessage, actions: Action[]): Promise<StepResult> {
    // Every tool_use gets exactly one tool_result, in the order the model asked, all in one message.
    const edits = await editsOf(this.deps.db, actions.map((a) => a.id));
    const content = actions.map((a) => {
      const r = actionResult(a) ?? { content: `No result recorded (${a.status}).`, is_error: true };
      // The model proposed something else: it is told that a human changed the call, and how.
      const edit = edits.get(a.id);
      const text = edit ? `${editNoteForModel(edit.by, edit.changes)}\n\n${r.content}` : r.content;
      return { type: 'tool_result', tool_use_id: a.tool_use_id, content: text, ...(r.is_error ? { is_error: true } : {}) };
    });
    const at = this.now();
    const appended = await this.deps.db.transaction().execute(async (trx) => {
      await lockRun(trx, run.id);
      const fresh = await getRun(trx, run.id);
      if (!fresh || fresh.status !== 'running') return false;
      const msgs = await listMessages(trx, run.id);
      if (msgs.at(-1)?.seq !== turn.seq) return false;
      await appendMessage(trx, { runId: run.id, role: 'user', content, at });
      return true;
    });
    return appended ? 'continue' : 'idle';
  }

  private async dispatchAndReport(run: Run, action: Action): Promise<void> {
    const { outbox } = this.deps;
    try {
      // What people see about the result is queued in the transaction that records it.
      this.dispatching.add(run.id);
      try {
        await this.deps.dispatcher.dispatch(action.id, (trx, done, result, unknown) => this.reportDispatch(trx, run, done, result, unknown), { leaseOwner: this.leases.owner });
      } finally {
        this.dispatching.delete(run.id);
      }
      outbox.wake();
    } catch (err) {
      // Anything that is not a refusal happened after the claim (e.g. the database failed after the tool
      // ran): let the step fail loudly; the action stays `dispatching` and becomes outcome_unknown.
      if (!isAppError(err)) throw err;
      if (err.code === 'policy_forbids' && action.decided_by === POLICY_ACTOR) {
        // The policy changed (a pause, a stricter mode) between proposal and dispatch: the call now needs a
        // human, so it goes back to pending and gets a card like any other.
        await transitionAction(this.deps.db, action.id, ['approved'], { status: 'pending', decision: 'ask', decided_by: null, decided_at: null, approved_hash: null, updated_at: this.now() });
        return;
      }
      if (err.code === 'approval_input_mismatch' || err.code === 'approval_missing') {
        // The stored call no longer matches its approval: it is never executed, and the model hears why.
        const content = `Not executed: ${err.message}. The approval did not cover this exact call.`;
        await this.deps.db.transaction().execute(async (trx) => {
          if (await transitionAction(trx, action.id, ['approved'], { status: 'failed', result_json: JSON.stringify({ content, is_error: true }), updated_at: this.now() })) {
            await outbox.line(trx, run, md`:warning: ${content}`, PRIORITY.decision);
            await outbox.updateCard(trx, run, action.id);
          }
        });
        outbox.wake();
        return;
      }
      // Other refusals (the run was cancelled or stopped meanwhile, someone else dispatched it) need nothing.
      this.deps.logger.warn({ err: errorMessage(err), actionId: action.id, runId: run.id }, 'dispatch not performed');
    }
  }

  /** Queues what people see about a dispatched call, inside the transaction that records its result. */
  private async reportDispatch(trx: Db, run: Run, action: Action, result: { content: string; is_error?: boolean }, unknown?: { reason: string }): Promise<void> {
    const { outbox, registry } = this.deps;
    if (unknown) {
      // The tool could not tell whether its call took effect: reported like a crash mid-dispatch.
      await this.queueOutcomeUnknown(trx, run, action, unknown.reason);
      return;
    }
    if (action.decided_by !== POLICY_ACTOR) {
      // Approved by a person: the card itself says what happened (no extra thread line).
      await outbox.updateCard(trx, run, action.id);
      await outbox.updateTaskMessage(trx, run, 'soon');
      return;
    }
    const desc = describeAction(registry, action);
    if (action.decision === 'notify' && !result.is_error) {
      // auto_notify: say exactly what was done, to the requester, with Undo where the tool can revert.
      const undoable = findActionType(action.tool)?.reversible === true && registry.get(action.tool)?.undo !== undefined;
      const text = md`:bell: ${mention(run.requester_id)} I did this on my own (auto-notify): *${desc.summary}*. ${result.content.slice(0, 500)}`;
      await outbox.notice(trx, run, action.id, text, undoable);
      return;
    }
    // full_auto steps show on the task message; a failure the requester should know about too.
    await outbox.updateTaskMessage(trx, run, 'soon');
  }

  /** Re-renders a card (after a decision, a cancel, a change of the workspace's state). */
  async refreshCard(actionId: string): Promise<void> {
    const action = await getAction(this.deps.db, actionId);
    const run = action ? await getRun(this.deps.db, action.run_id) : undefined;
    if (!action || !run) return;
    await this.deps.outbox.updateCard(this.deps.db, run, action.id);
    this.deps.outbox.wake();
  }

  /** Re-renders every undecided card of a workspace (after disable/enable, so they say so). */
  async refreshPendingCards(teamId: string): Promise<void> {
    const rows = await this.deps.db.selectFrom('actions').select(['id', 'run_id', 'team_id']).where('team_id', '=', teamId).where('status', '=', 'pending').execute();
    await this.deps.db.transaction().execute(async (trx) => {
      for (const r of rows) {
        const run = await getRun(trx, r.run_id);
        if (run) await this.deps.outbox.updateCard(trx, run, r.id);
      }
    });
    this.deps.outbox.wake();
  }

  // ---- endings -----------------------------------------------------------------------------------

  private async markOutcomeUnknown(action: Action): Promise<boolean> {
    const at = this.now();
    const content =
      'Outcome unknown: the app instance carrying this action out stopped (a restart or a crash) before it finished, so it may or may not have happened. ' +
      'It will not be retried automatically; a person has been asked to check. Do not repeat it unless they confirm.';
    const marked = await this.deps.db.transaction().execute(async (trx) => {
      const ok = await transitionAction(trx, action.id, ['dispatching'], {
        status: 'outcome_unknown',
        result_json: JSON.stringify({ content, is_error: true }),
        updated_at: at,
      });
      if (!ok) return false;
      await appendActivity(trx, { at, teamId: action.team_id, runId: action.run_id, actionId: action.id, actor: 'system', kind: 'action_outcome_unknown', detail: { tool: action.tool } });
      const run = await getRun(trx, action.run_id);
      if (run) await this.queueOutcomeUnknown(trx, run, action, 'the app stopped (a restart or a crash) while it was in progress');
      return true;
    });
    if (marked) this.deps.outbox.wake();
    return marked;
  }

  /** Queues the "please check" line and the card of an action recorded `outcome_unknown` (same transaction). */
  private async queueOutcomeUnknown(trx: Db, run: Run, action: Action, why: string): Promise<void> {
    const desc = describeAction(this.deps.registry, action);
    await this.deps.outbox.line(trx, run, md`:warning: *Please check:* I can't tell whether "${desc.summary}" happened: ${why}. I will not retry it automatically.`, PRIORITY.decision);
    if (action.decided_by !== POLICY_ACTOR) await this.deps.outbox.updateCard(trx, run, action.id);
    await this.deps.outbox.updateTaskMessage(trx, run, 'soon');
  }

  private async stopForQueue(run: Run, actions: Action[]): Promise<void> {
    const at = this.now();
    await this.deps.db.transaction().execute(async (trx) => {
      for (const a of actions.filter((x) => x.status === 'pending' || x.status === 'approved')) {
        const closed = await transitionAction(trx, a.id, ['pending', 'approved'], {
          status: 'cancelled',
          decision_note: 'Not queued: approvals are not being cleared.',
          result_json: JSON.stringify({ content: 'Not run: approvals are not being cleared.', is_error: true }),
          updated_at: at,
        });
        if (closed) await this.deps.outbox.updateCard(trx, run, a.id);
      }
    });
    await this.stopRun(run, 'queue_full', "I've stopped because approvals aren't being cleared; tell me when you're ready.");
  }

  private async stopForCap(run: Run, check: Exclude<CapCheck, { ok: true }>): Promise<void> {
    const message = `${describeCapStop(check)} No further model call was made.`;
    await this.endRun(run.id, 'stopped', 'cap_reached', message, {
      announce: 'capstop',
      cap: check.cap,
      activity: { kind: 'cap_reached', detail: { cap: check.cap, used: check.used, limit: check.limit } },
    });
  }

  /**
   * "Raise cap and continue": the run's own limit goes up (run and turn caps: the requester or an admin;
   * daily caps: admins, who raise the workspace cap) and the run resumes from its last persisted step.
   * `say` is the thread line announcing who resumed it, queued with the change.
   */
  async resumeStopped(runId: string, say?: Mrkdwn): Promise<boolean> {
    const ok = await this.deps.db.transaction().execute(async (trx) => {
      if (!(await transitionRun(trx, runId, ['stopped', 'failed'], { status: 'running', error_code: null, error_message: null, finished_at: null, updated_at: this.now() }))) return false;
      const run = await getRun(trx, runId);
      if (run) {
        if (say) await this.deps.outbox.line(trx, run, say, PRIORITY.decision);
        await this.deps.outbox.updateTaskMessage(trx, run, 'now');
      }
      return true;
    });
    if (ok) {
      this.deps.outbox.wake();
      void this.kick(runId);
    }
    return ok;
  }

  private async stopRun(run: Run, code: string, message: string): Promise<void> {
    await this.endRun(run.id, 'stopped', code, message);
  }

  async failRun(runId: string, code: string, message: string, opts: { tellThread?: boolean } = {}): Promise<void> {
    await this.endRun(runId, 'failed', code, message, { announce: opts.tellThread === false ? 'none' : 'line' });
  }

  /**
   * Ends a run: the status, the closing of its open cards, the activity row and the thread message that
   * says so are one transaction, so a crash can delay that message but never lose it.
   */
  private async endRun(
    runId: string,
    status: 'failed' | 'stopped',
    code: string,
    message: string,
    opts: { announce?: 'line' | 'retry' | 'capstop' | 'none'; cap?: string; activity?: { kind: string; detail: Record<string, unknown> } } = {},
  ): Promise<void> {
    const at = this.now();
    const { outbox } = this.deps;
    const ended = await this.deps.db.transaction().execute(async (trx) => {
      if (!(await transitionRun(trx, runId, ACTIVE, { status, error_code: code, error_message: message, finished_at: at, updated_at: at }))) return false;
      const run = await getRun(trx, runId);
      if (!run) return false;
      // Nothing of an ended run may still look decidable or count in the approval queue.
      const open = await trx.selectFrom('actions').select('id').where('run_id', '=', runId).where('status', 'in', ['pending', 'approved']).execute();
      for (const a of open) {
        const closed = await transitionAction(trx, a.id, ['pending', 'approved'], {
          status: 'cancelled',
          decision_note: `The run ${status === 'failed' ? 'failed' : 'stopped'}: ${message}`,
          result_json: JSON.stringify({ content: `Not run: the run ${status}.`, is_error: true }),
          updated_at: at,
        });
        if (closed) await outbox.updateCard(trx, run, a.id);
      }
      await appendActivity(trx, { at, teamId: run.team_id, runId, actor: 'system', kind: status === 'failed' ? 'run_failed' : 'run_stopped', detail: { code, message } });
      if (opts.activity) await appendActivity(trx, { at, teamId: run.team_id, runId, actor: 'system', kind: opts.activity.kind, detail: opts.activity.detail });
      const icon = status === 'failed' ? ':x:' : ':octagonal_sign:';
      const text = md`${trusted(icon)} ${requesterPing(run)}${message}`;
      switch (opts.announce ?? 'line') {
        case 'line':
          await outbox.line(trx, run, text, PRIORITY.decision);
          break;
        case 'retry':
          await outbox.retry(trx, run, text);
          break;
        case 'capstop':
          await outbox.capStop(trx, run, text, opts.cap ?? 'run');
          break;
        case 'none':
          break;
      }
      await outbox.updateTaskMessage(trx, run, 'now');
      return true;
    });
    if (ended) outbox.wake();
  }

  // ---- Slack messages outside a state change -----------------------------------------------------

  /** A line in the run's thread (safe mrkdwn only). */
  async announce(runId: string, text: Mrkdwn, priority: (typeof PRIORITY)[keyof typeof PRIORITY] = PRIORITY.normal): Promise<void> {
    const run = await getRun(this.deps.db, runId);
    if (!run) return;
    await this.deps.outbox.line(this.deps.db, run, text, priority);
    this.deps.outbox.wake();
  }

  async updateTaskMessage(runId: string, urgency: 'now' | 'soon' = 'now'): Promise<void> {
    const run = await getRun(this.deps.db, runId);
    if (!run) return;
    await this.deps.outbox.updateTaskMessage(this.deps.db, run, urgency);
    this.deps.outbox.wake();
  }

  private async mustGetRun(runId: string): Promise<Run> {
    const run = await getRun(this.deps.db, runId);
    if (!run) throw new AppError('run_not_found', `No run ${runId}`);
    return run;
  }
}
