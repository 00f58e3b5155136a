/**
 * Where a run's database time goes, statement by statement: `npx tsx scripts/bench/sqlTrace.ts`.
 * Starts the real app in this process against the bench's loopback fakes, runs one 5-turn run to warm
 * up and then RUNS more, one at a time, and prints per run how often each SQL statement ran and how long
 * better-sqlite3 spent in it (commits included). A diagnostic for docs/performance.md ("The hot path"),
 * not a benchmark: the times move with the machine's load, the counts do not.
 */
import { slashCommand } from '../../test/helpers/slackRequests.js';
import { onStatement, startTracedApp } from './traceApp.js';
import { REQUESTER, SIGNING_SECRET, startWorld, taskText, TEAM } from './world.js';

const stats = new Map<string, { n: number; ms: number }>();
let tracing = false;
onStatement((source, _at, ms) => {
  if (!tracing) return;
  const s = stats.get(source) ?? { n: 0, ms: 0 };
  s.n++;
  s.ms += ms;
  stats.set(source, s);
});
const world = await startWorld({ modelLatencyMs: 50 });
const { app, base, close } = await startTracedApp(world, 'trace-');
const RUNS = Number(process.env['RUNS'] ?? 4);
for (let k = 1; k <= RUNS + 1; k++) {
  if (k === 2) tracing = true;
  await slashCommand(base, SIGNING_SECRET, { text: `run ${taskText('turns5', k)}`, userId: REQUESTER, channelId: 'C1', teamId: TEAM, responseUrl: world.slack.responseUrl({ channel: 'C1', userId: REQUESTER }) });
  await world.waitFor('done', () => world.done.has(k), 30_000);
  await app.slackDrained();
  await world.waitQuiet(100, 10_000);
}
tracing = false;
const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
let total = 0, n = 0;
for (const [, s] of rows) { total += s.ms; n += s.n; }
console.log(`per run: ${(n / RUNS).toFixed(1)} statements, ${(total / RUNS).toFixed(2)} ms in better-sqlite3`);
for (const [sql, s] of rows.slice(0, 45)) console.log(`${(s.n / RUNS).toFixed(1).padStart(5)}x ${(s.ms / RUNS).toFixed(2).padStart(6)} ms  ${sql.slice(0, 150)}`);
await close();
await world.close();
