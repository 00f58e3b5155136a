/**
 * At most N runs of a workspace execute at once in this process; the rest wait in FIFO order. A run
 * waiting for approval holds no slot (its chain has ended). `onQueueChange` lets the task messages show
 * "queued (position k)".
 */
export class RunSlots {
  private readonly active = new Map<string, Set<string>>();
  private readonly waiting = new Map<string, Array<{ runId: string; grant: () => void }>>();

  constructor(
    private readonly limit: () => number,
    private readonly onQueueChange: (teamId: string, queued: Array<{ runId: string; position: number }>) => void,
  ) {}

  async acquire(teamId: string, runId: string): Promise<void> {
    const active = this.active.get(teamId) ?? new Set<string>();
    this.active.set(teamId, active);
    if (active.size < this.limit()) {
      active.add(runId);
      return;
    }
    await new Promise<void>((resolve) => {
      const queue = this.waiting.get(teamId) ?? [];
      queue.push({ runId, grant: resolve });
      this.waiting.set(teamId, queue);
      this.notify(teamId);
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
      this.notify(teamId);
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

  private notify(teamId: string): void {
    const queue = this.waiting.get(teamId) ?? [];
    this.onQueueChange(teamId, queue.map((w, i) => ({ runId: w.runId, position: i + 1 })));
  }
}
