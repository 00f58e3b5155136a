import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/**
 * WAL checkpoints off the event loop. SQLite copies the write-ahead log back into the database file
 * (and fsyncs it) inside whichever commit pushes the log past 1,000 pages: with better-sqlite3 that
 * commit runs on the event loop, and under a burst it stalled every pending acknowledgement for
 * 100-220 ms (seen in the bench's CPU profile as single native calls that long). The app's connection
 * stops checkpointing by itself; a worker thread with its own connection runs PASSIVE checkpoints, which
 * never wait for and never block the app's readers and writers. If the worker fails, the app's connection
 * checkpoints by itself again, so the log cannot grow without bound.
 */

export interface CheckpointResult {
  /** Frames in the log, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

export interface Checkpointer {
  /** Runs a last checkpoint in the worker and ends it (bounded); the connection checkpoints by itself again. */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  onCheckpoint?: (r: CheckpointResult) => void;
  /** The worker failed or exited early: the connection is back on its own checkpoints. */
  onFailure?: (message: string) => void;
}

// Plain CommonJS, evaluated in the worker: the app is bundled into one file, so the worker cannot be a
// module path of its own. better-sqlite3 is passed as a resolved path (it is external to the bundle).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.module);
const db = new SQLite(workerData.path);
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  const row = db.pragma('wal_checkpoint(PASSIVE)')[0];
  return { log: Number(row.log), checkpointed: Number(row.checkpointed) };
};
let last = -1;
let failures = 0;
const timer = setInterval(() => {
  try {
    const r = checkpoint();
    failures = 0;
    if (r.checkpointed !== last) parentPort.postMessage({ type: 'checkpoint', ...r });
    last = r.checkpointed;
  } catch (err) {
    // A locked database is retried at the next tick; a connection that keeps failing ends the worker,
    // and the app's connection takes the checkpoints back.
    if (++failures >= 20) {
      clearInterval(timer);
      try { db.close(); } catch {}
      throw err;
    }
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  try { parentPort.postMessage({ type: 'checkpoint', ...checkpoint() }); } catch {}
  db.close();
  parentPort.close();
});
`;

const AUTO_CHECKPOINT_PAGES = 1000; // SQLite's default

export function startCheckpointer(sqlite: SQLite.Database, path: string, opts: CheckpointerOptions = {}): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { module, path, intervalMs: opts.intervalMs ?? 250 },
    // A connection and a timer: a small heap is plenty, and the app's memory budget is tight.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
  });
  // The worker must not keep a finished process alive.
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  let fellBack = false;
  const fallBack = (message: string) => {
    if (fellBack) return;
    fellBack = true;
    try {
      if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    } catch {
      // The connection is closing: nothing left to checkpoint for.
    }
    if (!stopping) opts.onFailure?.(message);
  };
  worker.on('message', (m: { type: string; log?: number; checkpointed?: number }) => {
    if (m.type === 'checkpoint') opts.onCheckpoint?.({ log: m.log ?? 0, checkpointed: m.checkpointed ?? 0 });
  });
  worker.on('error', (err) => fallBack(err.message));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void exited.then(() => fallBack('the checkpoint worker exited'));

  return {
    async stop() {
      if (stopping) return exited;
      stopping = true;
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
