import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

export interface ClusterTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * The periodic work that keeps several instances honest: the heartbeat (this instance and its run leases
 * stay alive) and the sweep (take over what a gone instance left). Each task runs again `everyMs` after
 * the previous run ended, so a slow database never piles up overlapping runs.
 */
export class ClusterTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly tasks: ClusterTask[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    for (const task of this.tasks) this.schedule(task);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(task: ClusterTask): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      task
        .run()
        .catch((err: unknown) => this.logger.warn({ err: errorMessage(err), task: task.name }, 'cluster task failed; it runs again at its next interval'))
        .finally(() => this.schedule(task));
    }, task.everyMs);
    timer.unref();
    this.timers.set(task.name, timer);
  }
}
