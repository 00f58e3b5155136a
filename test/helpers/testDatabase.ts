import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type DatabaseTarget, type OpenedDatabase } from '../../src/db/connection.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by test/setup/postgres.ts for the `postgres` project: a superuser URL to create databases with. */
    postgresAdminUrl: string;
    /** Prefix of every database this test run creates, so teardown can drop what a crashed test left. */
    postgresDatabasePrefix: string;
    /** A database migrated once by globalSetup (with scripts/migrate.ts); test databases are copies of it. */
    postgresTemplate: string;
    /** CREATE DATABASE options for copying the template (STRATEGY needs Postgres 15). */
    postgresCreateOptions: string;
    /** Name prefix of copies of the template that globalSetup keeps ready in the background. */
    postgresStockPrefix: string;
  }
}

/**
 * Which engine the tests of this vitest project run against (see vitest.config.ts: the `sqlite` and
 * `postgres` projects run the same database tests). Every helper that opens a database asks here.
 */
export type TestEngine = 'sqlite' | 'postgres';
export const TEST_ENGINE: TestEngine = process.env['TEST_DATABASE_ENGINE'] === 'postgres' ? 'postgres' : 'sqlite';

export interface TestDatabase {
  engine: TestEngine;
  target: DatabaseTarget;
  /** Selects exactly this database for the app and for child processes (the other variable is blanked). */
  env: Record<string, string>;
  /** A new connection (pool) to the same database, e.g. a probe next to the app or a reopen. */
  open(): OpenedDatabase;
  /** Deletes the database (a no-op for SQLite: the file lives in the test's temp folder). */
  drop(): Promise<void>;
}

let created = 0;

/**
 * A fresh database of the current engine for one test (or one harness). On Postgres it is a copy of the
 * run's migrated template, which is several times faster than migrating each one (the app still runs
 * migrateToLatest at startup and finds nothing to do); `empty: true` gives a database with no tables,
 * to test migrations themselves. A SQLite database is always a new, empty file.
 */
export async function createTestDatabase(dir: string, opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  if (TEST_ENGINE === 'sqlite') {
    const target: DatabaseTarget = { engine: 'sqlite', path: join(dir, 'agent.db') };
    return {
      engine: 'sqlite',
      target,
      env: { DATABASE_PATH: target.path, DATABASE_URL: '' },
      open: () => openDatabase(target),
      drop: async () => undefined,
    };
  }
  const adminUrl = inject('postgresAdminUrl');
  const name = `${inject('postgresDatabasePrefix')}${process.pid}_${++created}_${randomBytes(3).toString('hex')}`;
  if (opts.empty) await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  else if (!(await claimStocked(adminUrl, name))) {
    await adminQuery(adminUrl, `CREATE DATABASE "${name}" TEMPLATE "${inject('postgresTemplate')}" ${inject('postgresCreateOptions')}`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const target: DatabaseTarget = { engine: 'postgres', url: url.toString() };
  let dropped = false;
  return {
    engine: 'postgres',
    target,
    env: { DATABASE_URL: target.url, DATABASE_PATH: join(dir, 'unused-on-postgres.db') },
    open: () => openDatabase(target),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE: a child process killed mid-test may still hold connections the server has not reaped.
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/**
 * Takes one of the template copies globalSetup made ahead (CREATE DATABASE is most of a test's setup
 * time on Postgres) by renaming it: a rename succeeds for exactly one of several workers racing for the
 * same copy. False when none is ready.
 */
async function claimStocked(adminUrl: string, name: string): Promise<boolean> {
  const stock = inject('postgresStockPrefix');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE left(datname, $1) = $2 ORDER BY datname LIMIT 4', [stock.length, stock]);
    for (const { datname } of rows) {
      try {
        await client.query(`ALTER DATABASE "${datname}" RENAME TO "${name}"`);
        return true;
      } catch {
        // Another worker took it first (it no longer exists under that name): try the next one.
      }
    }
    return false;
  } finally {
    await client.end();
  }
}

export async function adminQuery(adminUrl: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}
