/**
 * Exports the append-only activity log as JSON Lines, for audits and for keeping outside the app.
 * Usage: DATABASE_PATH=./data/agent.db npm run export-audit -- [--team T123] [--run r-abc123] [--since 2026-11-01]
 * (DATABASE_URL=postgres://... instead of DATABASE_PATH for a Postgres database)
 */
import { loadDatabaseSettings } from '../src/config.js';
import { databaseTarget, describeDatabase, openDatabase } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { existsSync } from 'node:fs';

// Same settings as `npm start`: .env in the working directory, real environment variables first.
if (existsSync('.env')) process.loadEnvFile('.env');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const target = (() => {
  try {
    return databaseTarget(loadDatabaseSettings(process.env));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
})();
const { db } = openDatabase(target);
try {
  await migrateToLatest(db);
  let q = db.selectFrom('activity').selectAll().orderBy('id');
  const team = arg('team');
  const run = arg('run');
  const since = arg('since');
  if (team) q = q.where('team_id', '=', team);
  if (run) q = q.where('run_id', '=', run);
  if (since) q = q.where('at', '>=', since);
  for (const row of await q.execute()) {
    process.stdout.write(`${JSON.stringify({ ...row, detail: JSON.parse(row.detail_json), detail_json: undefined })}\n`);
  }
} catch (err) {
  process.stderr.write(`Export from ${describeDatabase(target)} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
