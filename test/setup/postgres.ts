import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from '../helpers/postgresCluster.js';
import { adminQuery } from '../helpers/testDatabase.js';

/**
 * globalSetup of the `postgres` project: a server to create one database per test in. TEST_DATABASE_URL
 * (a role allowed to CREATE DATABASE) uses an existing server; otherwise a throwaway cluster is started
 * with the machine's initdb/pg_ctl and deleted afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const prefix = `agent_test_${randomBytes(3).toString('hex')}_`;
  project.provide('postgresDatabasePrefix', prefix);
  const given = process.env['TEST_DATABASE_URL']?.trim();
  if (given) {
    await adminQuery(given, 'SELECT 1').catch((err: unknown) => {
      throw new Error(`TEST_DATABASE_URL is set but the server did not answer: ${String(err)}`);
    });
    project.provide('postgresAdminUrl', given);
    return async () => {
      // Databases a crashed or interrupted test did not drop; only this run's (the prefix is random).
      const { rows } = await adminQuery(given, `SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'`);
      for (const { datname } of rows as Array<{ datname: string }>) {
        await adminQuery(given, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
      }
    };
  }
  const cluster = await startPostgresCluster();
  project.provide('postgresAdminUrl', cluster.adminUrl);
  return () => cluster.stop();
}
