import { getRun } from '../../db/repos/runs.js';
import { errorMessage } from '../../errors.js';
import type { RunSlots } from '../slots.js';
import type { EngineContext } from './context.js';
import { settleInterrupted } from './outcomeUnknown.js';
import { advance } from './step.js';

/** A chain that keeps finding its run `running` without moving it on gives up after this many looks. */
const MAX_IDLE_ROUNDS = 5;

/**
 * Which runs this process is advancing right now, one chain of steps per run: leases decide which
 * instance may advance a run, slots how many of a workspace's runs call the model at once.
 */
export class RunChains {
  private readonly chains = new Map<string, Promise<void>>();
  /** Runs kicked while their chain was running: the chain looks once more before it ends. */
  private readonly again = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly slots: RunSlots,
  ) {}

  /**
   * Schedules the run to advance in this instance, if it can take the run's lease (otherwise the
   * instance holding it carries on: see `runChain`). Steps of one run never overlap; a kick during a
   * step makes the loop look again when the step ends. Returns when the run has nothing more to do here.
   */
  kick(runId: string): Promise<void> {
    if (this.ctx.state.stopped) return Promise.resolve();
    const existing = this.chains.get(runId);
    if (existing) {
      this.again.add(runId);
      return existing;
    }
    this.again.delete(runId);
    const chain = this.runChain(runId)
      .catch((err: unknown) => this.ctx.deps.logger.error({ err: errorMessage(err), runId }, 'run chain failed'))
      .finally(() => {
        this.chains.delete(runId);
        // A kick that arrived after the loop's last look would otherwise be lost.
        if (this.again.has(runId) && !this.ctx.state.stopped) {
          this.again.delete(runId);
          void this.kick(runId);
        }
      });
    this.chains.set(runId, chain);
    return chain;
  }

  /** Whether this process is advancing the run now. */
  has(runId: string): boolean {
    return this.chains.has(runId);
  }

  /** Runs this process is advancing now. */
  runIds(): string[] {
    return [...this.chains.keys()];
  }

  /** Waits until no run is advancing in this process. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) {
      await Promise.allSettled([...this.chains.values()]);
    }
  }

  /**
   * One instance's turn with a run: take the lease, settle what a gone instance left mid-dispatch,
   * advance, release. The release is conditional on the run not being `running`: a decision committed
   * on another instance while this one still held the lease (its own kick found the lease taken) makes
   * the release fail, and this instance carries on, so a click is never stranded.
   */
  private async runChain(runId: string): Promise<void> {
    const { leases, logger, foreground } = this.ctx.deps;
    await foreground?.turn();
    if (this.ctx.state.stopped || !(await leases.claim(runId))) return;
    let release: 'idle' | 'handover' | 'cooldown' | 'done' = 'handover';
    try {
      await settleInterrupted(this.ctx, runId);
      for (let refused = 0; ; ) {
        this.again.delete(runId);
        await this.advanceOnce(runId);
        if (this.ctx.state.stopped) return;
        if (this.again.has(runId)) continue;
        const released = await leases.release(runId, 'idle');
        if (released !== 'running') {
          release = 'done';
          return;
        }
        if (++refused >= MAX_IDLE_ROUNDS) {
          logger.warn({ runId }, 'run is running but makes no progress; leaving it for a later sweep');
          release = 'cooldown';
          return;
        }
      }
    } finally {
      if (release !== 'done') await leases.release(runId, release === 'cooldown' ? 'cooldown' : 'handover').catch(() => undefined);
    }
  }

  /** Steps without a slot as far as possible (dispatching an approved action needs none), then with one. */
  private async advanceOnce(runId: string): Promise<void> {
    // Steps that call no model (dispatching an approved action, posting cards) need no slot: a click
    // is carried out at once even when the workspace's runs are queued.
    if ((await advance(this.ctx, runId, false)) !== 'model' && !this.again.has(runId)) return;
    const run = await getRun(this.ctx.deps.db, runId);
    if (!run || run.status !== 'running') return;
    // A run resuming after an approval (it has taken turns) goes ahead of runs that have not started.
    if ((await this.slots.acquire(run.team_id, runId, run.turns > 0)) !== 'granted') return;
    try {
      do {
        this.again.delete(runId);
        await advance(this.ctx, runId, true);
      } while (this.again.has(runId) && !this.ctx.state.stopped);
    } finally {
      await this.slots.release(run.team_id, runId);
    }
  }
}
