import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from '../helpers/postgresCluster.js';
import { adminQuery } from '../helpers/testDatabase.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * globalSetup of the `postgres` project: a server to create one database per test in. TEST_DATABASE_URL
 * (a role allowed to CREATE DATABASE) uses an existing server; otherwise a throwaway cluster is started
 * with the machine's initdb/pg_ctl and deleted afterwards. The migrations are applied once, by the real
 * `scripts/migrate.ts`, to a template database that every test database is copied from.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const prefix = `agent_test_${randomBytes(3).toString('hex')}_`;
  const given = process.env['TEST_DATABASE_URL']?.trim();
  let adminUrl: string;
  let stopCluster: (() => Promise<void>) | undefined;
  let stopStocking: (() => Promise<void>) | undefined;
  if (given) {
    await adminQuery(given, 'SELECT 1').catch((err: unknown) => {
      throw new Error(`TEST_DATABASE_URL is set but the server did not answer: ${String(err)}`);
    });
    adminUrl = given;
  } else {
    const cluster = await startPostgresCluster();
    adminUrl = cluster.adminUrl;
    stopCluster = cluster.stop;
  }

  const dropOurs = async () => {
    // Only this run's databases (the prefix is random): another run may share a TEST_DATABASE_URL server.
    const { rows } = await adminQuery(adminUrl, `SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'`);
    for (const { datname } of rows as Array<{ datname: string }>) {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
    }
  };

  try {
    const version = Number((await adminQuery(adminUrl, 'SHOW server_version_num')).rows[0]?.server_version_num);
    const template = `${prefix}template`;
    await adminQuery(adminUrl, `CREATE DATABASE "${template}"`);
    const url = new URL(adminUrl);
    url.pathname = `/${template}`;
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url.toString(), DATABASE_PATH: '' },
    });
    project.provide('postgresAdminUrl', adminUrl);
    project.provide('postgresDatabasePrefix', prefix);
    project.provide('postgresTemplate', template);
    // FILE_COPY copies the template's files instead of WAL-logging every block: 2-3x faster here.
    const createOptions = version >= 150000 ? 'STRATEGY = FILE_COPY' : '';
    project.provide('postgresCreateOptions', createOptions);
    project.provide('postgresStockPrefix', `${prefix}stock_`);
    stopStocking = await keepCopiesReady(adminUrl, template, createOptions, `${prefix}stock_`);
  } catch (err) {
    await stopStocking?.();
    await dropOurs().catch(() => undefined);
    await stopCluster?.();
    throw err;
  }

  return async () => {
    await stopStocking?.();
    if (stopCluster) await stopCluster();
    else await dropOurs();
  };
}

/**
 * Keeps a few copies of the template ready while the tests run, so a test claims one (a rename) instead
 * of waiting for CREATE DATABASE, which here takes most of a Postgres test's setup time. Returns a stop
 * function that waits for a copy in progress.
 */
async function keepCopiesReady(adminUrl: string, template: string, createOptions: string, stockPrefix: string, size = 4): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  let stopped = false;
  let made = 0;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_database WHERE left(datname, $1) = $2', [stockPrefix.length, stockPrefix]);
      if ((rows[0]?.n ?? 0) < size) await client.query(`CREATE DATABASE "${stockPrefix}${++made}" TEMPLATE "${template}" ${createOptions}`);
      else await sleep(25);
    }
  })().catch(() => undefined); // a failure here only means tests create their own databases
  return async () => {
    stopped = true;
    await loop;
    await client.end().catch(() => undefined);
  };
}
