/** Main-thread handle on the app worker (scripts/bench/appWorker.ts): start it, call it, stop it. */
import { Worker } from 'node:worker_threads';
import type { RunTemplate } from './seed.js';
import type { StartOptions, WorkerRequest } from './appWorker.js';

export interface AppThread {
  call<T = unknown>(req: WorkerRequest, timeoutMs: number): Promise<T>;
  start(env: Record<string, string>, options?: StartOptions): Promise<{ port: number }>;
  snapshot(teamId: string): Promise<RunTemplate | undefined>;
  /**
   * Milliseconds the app thread's event loop has been busy (running callbacks, JavaScript and synchronous
   * native calls such as SQLite's) since the thread started: read from this thread, so reading it costs
   * the app nothing.
   */
  busyMs(): number;
  /** Stops the app (bounded), then the worker thread. */
  close(): Promise<void>;
}

export async function startAppThread(): Promise<AppThread> {
  // Worker threads do not inherit tsx's loader on Node 20: register it inside the worker first.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./appWorker.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(entry)});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`));

  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let failed: Error | undefined;
  const failAll = (err: Error) => {
    failed = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the app worker did not start within 30 s')), 30_000);
    worker.on('message', (msg: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (msg.ready) {
        clearTimeout(timer);
        resolve();
        return;
      }
      const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
      if (!p || msg.id === undefined) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`app worker: ${msg.error ?? 'unknown error'}`));
    });
    worker.on('error', (err) => {
      clearTimeout(timer);
      failAll(err);
      reject(err);
    });
    worker.on('exit', (code) => {
      clearTimeout(timer);
      const err = new Error(`the app worker exited (code ${code})`);
      failAll(err);
      reject(err);
    });
  });
  await ready;

  const call = <T>(req: WorkerRequest, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (failed) return reject(failed);
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`app worker: '${req.cmd}' did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      worker.postMessage({ id, req });
    });

  return {
    call,
    start: (env, options) => call<{ port: number }>({ cmd: 'start', env, ...(options ? { options } : {}) }, 60_000),
    snapshot: (teamId) => call<RunTemplate | undefined>({ cmd: 'snapshot', teamId }, 10_000),
    busyMs: () => worker.performance.eventLoopUtilization().active,
    async close() {
      if (!failed) await call({ cmd: 'stop' }, 20_000).catch(() => undefined);
      await worker.terminate();
    },
  };
}
