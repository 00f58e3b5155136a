/**
 * At most N runs of a workspace execute at once in this process; the rest wait in FIFO order. A run
 * waiting for approval holds no slot (its chain has ended). `onQueued` lets the run's task message show
 * "queued (position k)" (its position when it joined the queue).
 */
export class RunSlots {
  private readonly active = new Map<string, Set<string>>();
  private readonly waiting = new Map<string, Array<{ runId: string; grant: () => void; resuming: boolean }>>();

  constructor(
    private readonly limit: () => number,
    private readonly onQueued: (runId: string) => void,
  ) {}

  /** `first`: a run that already started (resuming after an approval) waits ahead of new runs. */
  async acquire(teamId: string, runId: string, first = false): Promise<void> {
    const active = this.active.get(teamId) ?? new Set<string>();
    this.active.set(teamId, active);
    if (active.size < this.limit()) {
      active.add(runId);
      return;
    }
    await new Promise<void>((resolve) => {
      const queue = this.waiting.get(teamId) ?? [];
      if (first) {
        const firstNew = queue.findIndex((w) => !w.resuming);
        queue.splice(firstNew < 0 ? queue.length : firstNew, 0, { runId, grant: resolve, resuming: true });
      } else queue.push({ runId, grant: resolve, resuming: false });
      this.waiting.set(teamId, queue);
      this.onQueued(runId);
    });
  }

  release(teamId: string, runId: string): void {
    const active = this.active.get(teamId);
    if (!active?.delete(runId)) return;
    const queue = this.waiting.get(teamId) ?? [];
    const next = queue.shift();
    if (next) {
      active.add(next.runId);
      next.grant();
    }
  }

  queuedPosition(teamId: string, runId: string): number | undefined {
    const i = (this.waiting.get(teamId) ?? []).findIndex((w) => w.runId === runId);
    return i >= 0 ? i + 1 : undefined;
  }

  /** Releases every waiter (shutdown); they see the engine stopped and do nothing. */
  drain(): void {
    for (const queue of this.waiting.values()) for (const w of queue.splice(0)) w.grant();
  }
}
