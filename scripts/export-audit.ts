/**
 * Exports the append-only activity log as JSON Lines, for audits and for keeping outside the app.
 * Usage: DATABASE_PATH=./data/agent.db npm run export-audit -- [--team T123] [--run r-abc123] [--since 2026-11-01]
 */
import { openDatabase } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { existsSync } from 'node:fs';

// Same settings as `npm start`: .env in the working directory, real environment variables first.
if (existsSync('.env')) process.loadEnvFile('.env');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const path = process.env['DATABASE_PATH'] || './data/agent.db';
const { db } = openDatabase(path);
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
  process.stderr.write(`Export from ${path} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
