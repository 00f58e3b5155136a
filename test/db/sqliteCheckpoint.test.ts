import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer, type CheckpointResult } from '../../src/db/sqliteCheckpoint.js';

// The app's SQLite connection leaves WAL checkpoints to a worker thread (so a checkpoint's copy and fsync
// never stall the event loop inside a commit). What must hold: the log really is copied into the file
// without the app's connection doing it, and if the worker is gone the connection checkpoints again.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openFile(): { path: string; sqlite: SQLite.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  dirs.push(dir);
  const path = join(dir, 'app.db');
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.exec('create table t (id integer primary key, body text not null)');
  return { path, sqlite };
}

function autoCheckpointPages(sqlite: SQLite.Database): number {
  return Number(sqlite.pragma('wal_autocheckpoint', { simple: true }));
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SQLite checkpoints in a worker thread', () => {
  it('copies what the app commits into the database file while the app connection never checkpoints', async () => {
    const { path, sqlite } = openFile();
    const results: CheckpointResult[] = [];
    const ckpt = startCheckpointer(sqlite, path, { intervalMs: 20, onCheckpoint: (r) => results.push(r) });
    try {
      expect(autoCheckpointPages(sqlite)).toBe(0);
      const before = statSync(path).size;
      // ~3,000 pages: past SQLite's own 1,000-page threshold, so without the worker the app's connection
      // would have checkpointed inside one of these commits.
      const insert = sqlite.prepare('insert into t (body) values (?)');
      for (let i = 0; i < 300; i++) sqlite.transaction(() => insert.run('x'.repeat(40_000)))();
      const done = await until(() => results.find((r) => r.log > 0 && r.checkpointed === r.log && r.log >= 3000), 'a full checkpoint of the log');
      expect(done.checkpointed).toBe(done.log);
      expect(statSync(path).size).toBeGreaterThan(before + 10_000_000);
      // The data is there through a fresh connection too.
      const probe = new SQLite(path, { readonly: true });
      expect(probe.prepare('select count(*) as n from t').get()).toEqual({ n: 300 });
      probe.close();
    } finally {
      await ckpt.stop();
    }
    expect(autoCheckpointPages(sqlite)).toBe(1000);
    sqlite.close();
  });

  it('hands checkpoints back to the connection when the worker cannot run', async () => {
    const { sqlite } = openFile();
    const failures: string[] = [];
    // A path the worker cannot open: its connection fails at once.
    const ckpt = startCheckpointer(sqlite, join(tmpdir(), 'no-such-dir-ckpt', 'sub', 'x.db'), { intervalMs: 20, onFailure: (m) => failures.push(m) });
    await until(() => (failures.length > 0 ? true : undefined), 'the failure report');
    expect(autoCheckpointPages(sqlite)).toBe(1000);
    await ckpt.stop();
    sqlite.close();
  });
});
