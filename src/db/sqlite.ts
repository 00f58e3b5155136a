import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';
import { writeActivityAtCommit } from './activityAtCommit.js';
import { flushActivity } from './repos/activity.js';

export interface OpenedSqlite {
  engine: 'sqlite';
  db: Kysely<Database>;
  /** The raw handle, for the few SQLite-only features kept behind small interfaces (FTS5). */
  sqlite: SQLite.Database;
}

/**
 * Opens (creating if needed) the SQLite file. WAL lets readers proceed while a run writes; the busy
 * timeout makes a second process (a script, a restarted app) wait for a lock instead of failing.
 */
export function openSqlite(path: string): OpenedSqlite {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  // 4 MB of page cache instead of better-sqlite3's 16 MB: the operating system caches the file anyway,
  // and the app's memory budget (200 MB with 10,000 suspended runs) is tight.
  sqlite.pragma('cache_size = -4000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { engine: 'sqlite', db: writeActivityAtCommit(db, flushActivity), sqlite };
}

/**
 * Kysely prepares every query again; preparing is the largest single cost under load. The SQL text of
 * a query builder call is stable, so compiled statements are reused (bounded, least recently used).
 * Safe because Kysely's SQLite driver runs one statement at a time on this connection.
 */
function withStatementCache(sqlite: SQLite.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
      } else {
        stmt = sqlite.prepare(sql);
        if (cache.size >= max) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
      }
      cache.set(sql, stmt);
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}
