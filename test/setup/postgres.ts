import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
    project.provide('postgresCreateOptions', version >= 150000 ? 'STRATEGY = FILE_COPY' : '');
  } catch (err) {
    await dropOurs().catch(() => undefined);
    await stopCluster?.();
    throw err;
  }

  return async () => {
    if (stopCluster) await stopCluster();
    else await dropOurs();
  };
}
