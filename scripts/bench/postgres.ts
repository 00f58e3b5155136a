/**
 * Where the "several instances" section gets its PostgreSQL databases: the server at `--database-url`, or
 * a throwaway cluster the bench starts itself (test/helpers/postgresCluster.ts: initdb/pg_ctl in a temp
 * folder) when the server binaries are installed. Every configuration gets a fresh, empty database, so
 * one measurement starts with nothing left over from the previous one, and it is dropped afterwards.
 */
import pg from 'pg';
import { findPostgresBinDir, startPostgresCluster, type PostgresCluster } from '../../test/helpers/postgresCluster.js';

export interface FreshDatabase {
  /** DATABASE_URL for the app. */
  url: string;
  drop(): Promise<void>;
}

export interface PostgresSource {
  /** For the report: the server's version and where it came from (never the password). */
  describe: string;
  fresh(label: string): Promise<FreshDatabase>;
  close(): Promise<void>;
}

async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  await client.connect();
  try {
    return await client.query<T>(text);
  } finally {
    await client.end();
  }
}

function withoutPassword(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Databases on the server at `url`: a new database per configuration when the role may create one
 * (CREATEDB); otherwise a new schema in the given database, selected through the connection's
 * search_path (libpq's `options` parameter), which any role owning its database may do.
 */
function onServer(url: string, describe: string, stop: () => Promise<void>): PostgresSource {
  let seq = 0;
  return {
    describe,
    async fresh(label) {
      const name = `agent_bench_${process.pid}_${++seq}_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
      try {
        await query(url, `CREATE DATABASE "${name}"`);
        const u = new URL(url);
        u.pathname = `/${name}`;
        return {
          url: u.toString(),
          // FORCE: an instance killed by the watchdog may leave connections the server has not reaped.
          drop: async () => {
            await query(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => query(url, `DROP DATABASE IF EXISTS "${name}"`));
          },
        };
      } catch (err) {
        if ((err as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw err;
      }
      await query(url, `CREATE SCHEMA "${name}"`);
      const u = new URL(url);
      u.searchParams.set('options', `-c search_path=${name}`);
      return { url: u.toString(), drop: async () => void (await query(url, `DROP SCHEMA IF EXISTS "${name}" CASCADE`)) };
    },
    close: stop,
  };
}

/**
 * The server to measure on, or why there is none: `--database-url` wins; else a throwaway cluster when
 * initdb is found (Debian's `postgresql` package, or PG_BINDIR).
 */
export async function postgresSource(databaseUrl: string | undefined, log: (msg: string) => void): Promise<PostgresSource | { unavailable: string }> {
  if (databaseUrl) {
    const version = (await query<{ server_version: string }>(databaseUrl, 'SHOW server_version')).rows[0]?.server_version ?? '?';
    return onServer(databaseUrl, `PostgreSQL ${version} at ${withoutPassword(databaseUrl)} (--database-url)`, async () => undefined);
  }
  if (!findPostgresBinDir()) {
    return {
      unavailable:
        'no PostgreSQL figures: pass --database-url postgres://user:password@host:5432/database (a role that may CREATE DATABASE, or ' +
        'one that owns that database), or install the PostgreSQL server binaries (initdb; PG_BINDIR) so the bench can start a throwaway cluster',
    };
  }
  log('starting a throwaway PostgreSQL cluster (initdb/pg_ctl in a temp folder)...');
  const cluster: PostgresCluster = await startPostgresCluster();
  return onServer(cluster.adminUrl, `${cluster.version}, a throwaway local cluster the bench started (fsync off, loopback)`, () => cluster.stop());
}
