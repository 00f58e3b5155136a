/**
 * Acknowledgements first. Slack waits at most 3 s for the HTTP answer to a command or a click, and the
 * work that answer needs (parse, authorise, persist the decision or the run) runs in the request handler.
 * Everything else on the same event loop (run steps, Slack outbox passes) is background work: before each
 * unit of it, the code asks for a turn here. A turn is given
 *  - only after the event loop has gone round once (setImmediate), so requests that have arrived on
 *    their sockets are read first: a chain of database calls resolves as microtasks and would otherwise
 *    never let the loop poll for I/O;
 *  - only while no request is being answered, one waiter per loop turn, in FIFO order;
 *  - or, so that a steady stream of requests cannot starve the runs, once the waiter has waited
 *    `maxDeferMs`.
 * Never ask for a turn while holding something a request handler needs (an open transaction: SQLite
 * has one connection): a unit asks before it starts.
 */
export interface ForegroundOptions {
  /** The longest a unit of background work waits for requests to be answered. */
  maxDeferMs: number;
  now?: () => number;
}

export const DEFAULT_FOREGROUND: ForegroundOptions = { maxDeferMs: 1000 };

interface Waiter {
  since: number;
  resolve: () => void;
}

export class Foreground {
  private pending = 0;
  private readonly waiting: Waiter[] = [];
  private scheduled = false;
  private open = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ForegroundOptions = DEFAULT_FOREGROUND) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Requests being answered right now. */
  get inFlight(): number {
    return this.pending;
  }

  /** Units of background work waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** A request arrived; the returned function (idempotent) says it has been answered. */
  begin(): () => void {
    this.pending++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.pending--;
      if (this.pending === 0) this.schedule();
    };
  }

  /**
   * Shutdown: every waiter goes now and later turns are not held back, so work in flight can see that
   * it is stopping and end (a drain must not wait behind a request that is never answered).
   */
  releaseAll(): void {
    this.open = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.splice(0)) w.resolve();
  }

  /** Resolves when this unit of background work may run. */
  turn(): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiting.push({ since: this.now(), resolve });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.release());
  }

  private release(): void {
    this.scheduled = false;
    const head = this.waiting[0];
    if (!head) return;
    const overdue = this.now() - head.since >= this.options.maxDeferMs;
    if (this.pending === 0 || overdue) {
      this.waiting.shift();
      head.resolve();
      this.schedule();
      return;
    }
    // Requests are being answered: wait for the last answer (begin()'s end schedules), or the deadline.
    if (!this.timer) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.schedule();
        },
        Math.max(1, head.since + this.options.maxDeferMs - this.now()),
      );
      this.timer.unref();
    }
  }
}
