/**
 * Exports the append-only activity log as JSON Lines, for audits and for keeping outside the app.
 * Usage: DATABASE_PATH=./data/agent.db npm run export-audit -- [--team T123] [--run r-abc123] [--since 2026-11-01]
 * (DATABASE_URL=postgres://... instead of DATABASE_PATH for a Postgres database)
 *
 * `--verify [--team T123]` exports nothing: it recomputes each workspace's hash chain, prints a summary
 * and exits 0 when every chain holds; otherwise it names the first broken row of each broken workspace
 * (on stderr) and exits 1. Exit 2: bad arguments; 1 also when the database cannot be read.
 */
import { loadDatabaseSettings } from '../src/config.js';
import { databaseTarget, describeDatabase, openDatabase } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { verifyActivityChain } from '../src/db/repos/activityVerify.js';
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
const verify = process.argv.includes('--verify');
if (verify && (arg('run') || arg('since'))) {
  process.stderr.write('--verify checks whole chains: it takes --team only (not --run or --since)\n');
  process.exit(2);
}
const { db } = openDatabase(target);
try {
  await migrateToLatest(db);
  if (verify) {
    const team = arg('team');
    const report = await verifyActivityChain(db, team ? { teamId: team } : {});
    for (const t of report.teams) {
      if (t.broken) {
        const b = t.broken;
        const where = b.rowId === null ? `workspace ${b.teamId}` : `row ${b.rowId} (workspace ${b.teamId}, position ${b.seq ?? 'none'})`;
        process.stderr.write(`BROKEN ${where}: ${b.problem}: ${b.message}\n`);
      } else {
        process.stdout.write(`ok ${t.teamId}: ${t.rows} rows, head ${t.headSeq} ${t.headHash}\n`);
      }
    }
    const broken = report.teams.filter((t) => t.broken).length;
    if (broken) {
      process.stderr.write(`Activity log of ${describeDatabase(target)}: ${broken} of ${report.teams.length} workspace chains are broken.\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`Activity log of ${describeDatabase(target)} verified: ${report.rows} rows in ${report.teams.length} workspace chains, all intact.\n`);
    }
  } else {
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
  }
} catch (err) {
  process.stderr.write(`${verify ? 'Verification of' : 'Export from'} ${describeDatabase(target)} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
