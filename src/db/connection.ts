import type { Kysely } from 'kysely';
import { openPostgres, type OpenedPostgres, type PostgresOptions } from './postgres.js';
import type { Database } from './schema.js';
import { openSqlite, type OpenedSqlite } from './sqlite.js';

export type Db = Kysely<Database>;

/** PostgreSQL when DATABASE_URL is set, else the embedded SQLite file at DATABASE_PATH. */
export type DatabaseTarget = { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string };

/** The Kysely instance plus the engine's own handle, for the few features kept behind small interfaces. */
export type OpenedDatabase = OpenedSqlite | OpenedPostgres;

export function databaseTarget(settings: { databaseUrl?: string | undefined; databasePath: string }): DatabaseTarget {
  return settings.databaseUrl ? { engine: 'postgres', url: settings.databaseUrl } : { engine: 'sqlite', path: settings.databasePath };
}

/** Opens the database; a plain string is a SQLite file path. Postgres connects lazily, on the first query. */
export function openDatabase(target: DatabaseTarget | string, options: PostgresOptions = {}): OpenedDatabase {
  const t: DatabaseTarget = typeof target === 'string' ? { engine: 'sqlite', path: target } : target;
  return t.engine === 'postgres' ? openPostgres(t.url, options) : openSqlite(t.path);
}

/** For messages and logs: the file path, or the URL without its password. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.engine === 'sqlite') return `DATABASE_PATH=${target.path}`;
  try {
    const u = new URL(target.url);
    if (u.password) u.password = '***';
    return `DATABASE_URL=${u.toString()}`;
  } catch {
    return 'DATABASE_URL=(unparseable)';
  }
}
