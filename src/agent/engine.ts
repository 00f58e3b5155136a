import type { Run } from '../db/schema.js';
import type { Mrkdwn } from '../text/mrkdwn.js';
import { PRIORITY } from './outbox.js';
import { RunSlots } from './slots.js';
import { RunChains } from './engine/chains.js';
import { createEngineContext, type EngineContext, type EngineDeps } from './engine/context.js';
import { cardUndeliverable, failRun, reopenRun, taskMessageUndeliverable } from './engine/endings.js';
import { drainAndStop, repairAtStartup, sweep } from './engine/lifecycle.js';
import { announce, refreshCard, refreshPendingCards, updateTaskMessage } from './engine/messages.js';
import { startRun, type StartRunInput } from './engine/start.js';

export type { EngineDeps, EngineSettings } from './engine/context.js';
export type { StartRunInput } from './engine/start.js';

/**
 * The durable run loop. Every step starts from what is in the database and persists its effects before
 * the next one, so a run can stop at any point (crash, approval wait) and be resumed by any process.
 * Nothing about a suspended run is held in memory. Several instances may share the database: a run is
 * advanced only by the instance holding its lease (src/cluster/runLeases.ts).
 *
 * This class is the engine's public face; the work is done in src/agent/engine/: `chains` (which runs
 * this process advances), `step` (one step of a run), `modelTurn`/`recordModelCall` (a model call),
 * `toolTurn`/`dispatch` (a turn's tool calls), `endings` (failure, stop, resume), `lifecycle` (startup,
 * sweep, shutdown), `messages` (Slack updates outside a state change), `start` (a new run).
 */
export class RunEngine {
  private readonly ctx: EngineContext;
  private readonly slots: RunSlots;
  private readonly chains: RunChains;

  constructor(deps: EngineDeps) {
    this.ctx = createEngineContext(deps);
    this.slots = new RunSlots({
      db: deps.db,
      owner: deps.leases.owner,
      limit: () => deps.settings.maxConcurrentRuns,
      // Only the run that just joined the queue is re-rendered: refreshing every queued task message on
      // each change would be quadratic in Slack calls (and hit chat.update's rate limit).
      onQueued: (runId) => void this.updateTaskMessage(runId, 'soon'),
    });
    this.chains = new RunChains(this.ctx, this.slots);
  }

  /** This instance's id (lease owner). */
  get instanceId(): string {
    return this.ctx.owner;
  }

  startRun(input: StartRunInput): Promise<Run> {
    return startRun(this.ctx, input);
  }

  /** The queue position shown on a queued run's task message (the workspace's queue, across instances). */
  queuePosition(teamId: string, runId: string): Promise<number | undefined> {
    return this.slots.position(teamId, runId);
  }

  /** See `taskMessageUndeliverable` in engine/endings.ts: the run fails, the requester hears privately. */
  taskMessageUndeliverable(runId: string, why: string): Promise<void> {
    return taskMessageUndeliverable(this.ctx, runId, why);
  }

  /** A card that cannot be posted anywhere: nothing can be approved, so the run fails and says why. */
  cardUndeliverable(actionId: string, why: string): Promise<void> {
    return cardUndeliverable(this.ctx, actionId, why);
  }

  /** Schedules the run to advance here if this instance can take its lease; see RunChains.kick. */
  kick(runId: string): Promise<void> {
    return this.chains.kick(runId);
  }

  /** Waits until no run is advancing in this process (tests, graceful shutdown). */
  idle(): Promise<void> {
    return this.chains.idle();
  }

  /** Shutdown: in-flight steps get up to `drainMs`, then leases are handed over (engine/lifecycle.ts). */
  stop(drainMs = Number.POSITIVE_INFINITY): Promise<void> {
    return drainAndStop(this.ctx, this.chains, this.slots, drainMs);
  }

  /** At startup: repairs left by older versions, then takes the runs no live instance is advancing. */
  async recover(): Promise<{ resumed: string[] }> {
    await repairAtStartup(this.ctx);
    return { resumed: await this.sweep() };
  }

  /** Takes runs that need an instance (called at startup and periodically). */
  sweep(): Promise<string[]> {
    return sweep(this.ctx, this.chains, this.slots);
  }

  /** Re-renders a card (after a decision, a cancel, a change of the workspace's state). */
  refreshCard(actionId: string): Promise<void> {
    return refreshCard(this.ctx, actionId);
  }

  /** Re-renders every undecided card of a workspace (after disable/enable, so they say so). */
  refreshPendingCards(teamId: string): Promise<void> {
    return refreshPendingCards(this.ctx, teamId);
  }

  /**
   * "Raise cap and continue": the run's own limit goes up (run and turn caps: the requester or an admin;
   * daily caps: admins, who raise the workspace cap) and the run resumes from its last persisted step.
   * `say` is the thread line announcing who resumed it, queued with the change.
   */
  async resumeStopped(runId: string, say?: Mrkdwn): Promise<boolean> {
    const ok = await reopenRun(this.ctx, runId, say);
    if (ok) void this.kick(runId);
    return ok;
  }

  failRun(runId: string, code: string, message: string, opts: { tellThread?: boolean } = {}): Promise<void> {
    return failRun(this.ctx, runId, code, message, opts);
  }

  /** A line in the run's thread (safe mrkdwn only). */
  announce(runId: string, text: Mrkdwn, priority: (typeof PRIORITY)[keyof typeof PRIORITY] = PRIORITY.normal): Promise<void> {
    return announce(this.ctx, runId, text, priority);
  }

  updateTaskMessage(runId: string, urgency: 'now' | 'soon' = 'now'): Promise<void> {
    return updateTaskMessage(this.ctx, runId, urgency);
  }
}
