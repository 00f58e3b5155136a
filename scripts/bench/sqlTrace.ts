/**
 * Where a run's database time goes, statement by statement: `npx tsx scripts/bench/sqlTrace.ts`.
 * Starts the real app in this process against the bench's loopback fakes, runs one 5-turn run to warm
 * up and then RUNS more, one at a time, and prints per run how often each SQL statement ran and how long
 * better-sqlite3 spent in it (commits included). A diagnostic for docs/performance.md ("The hot path"),
 * not a benchmark: the times move with the machine's load, the counts do not.
 */
import SQLite from 'better-sqlite3';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startApp } from '../../src/main.js';
import { slashCommand } from '../../test/helpers/slackRequests.js';
import { BOT_TOKEN, REQUESTER, SIGNING_SECRET, startWorld, taskText, TEAM } from './world.js';

const probe = new SQLite(':memory:');
const proto = Object.getPrototypeOf(probe.prepare('select 1'));
const stats = new Map<string, { n: number; ms: number }>();
let tracing = false;
for (const m of ['all', 'run', 'get']) {
  const orig = proto[m];
  proto[m] = function (this: { source: string }, ...args: unknown[]) {
    if (!tracing) return orig.apply(this, args);
    const t0 = performance.now();
    try { return orig.apply(this, args); } finally {
      const s = stats.get(this.source) ?? { n: 0, ms: 0 };
      s.n++; s.ms += performance.now() - t0; stats.set(this.source, s);
    }
  };
}
const world = await startWorld({ modelLatencyMs: 50 });
const dir = mkdtempSync(join(tmpdir(), 'trace-'));
mkdirSync(join(dir, 'knowledge'));
writeFileSync(join(dir, 'knowledge', 'q2.md'), '# Q2 report\nRevenue grew 12% in Q2.\n');
const app = await startApp(loadConfig({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: world.slack.url, PORT: '0', ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: world.claude.url, DATABASE_PATH: join(dir, 'a.db'), SMTP_URL: world.smtpUrl, KNOWLEDGE_DIR: join(dir, 'knowledge'), LOG_LEVEL: 'silent', USER_DAY_CAP_USD: '1000', WORKSPACE_DAY_CAP_USD: '1000' }), { logger: pino({ level: 'silent' }), slackRetryConfig: { retries: 0 }, anthropicMaxRetries: 0, botIdentity: { botId: 'B', botUserId: 'U_BOT' } });
const base = `http://127.0.0.1:${app.port}`;
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
await app.stop();
await world.close();
rmSync(dir, { recursive: true, force: true });
