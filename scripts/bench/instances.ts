/**
 * "Several instances": the app as N real child processes (what `npm start` runs) on one database, behind
 * a round-robin load balancer (scripts/bench/balancer.ts), against the bench's fake Slack, fake Claude and
 * real SMTP server. For each configuration (SQLite with 1 instance; PostgreSQL with 1..N instances) it
 * measures, on a fresh database:
 *  - the floor: a burst of `/agent help` (HTTP + Bolt only, no database) through the same balancer;
 *  - a burst of simultaneous `/agent run`: ack latency and acks per second;
 *  - once every card is up, a burst of simultaneous Approve clicks on distinct cards: ack latency, acks per
 *    second, and runs completed per second (click burst sent -> last final answer posted);
 *  - exactly-once: every clicked action sent at most one mail (counted at the SMTP server) and recorded one
 *    dispatch per mail (counted in the database); every click acked 200 sent exactly one; nothing else was
 *    sent. (A click the app acked too late for Slack, past 3 s, still counts once if its decision had been
 *    stored: decisions are persisted before the ack.)
 *
 * The burst is spread as real traffic is: one run per channel, a few runs per workspace. Slack's limits
 * and the app's own pacing of Slack calls are per channel and per workspace (src/slack/outbox/pacer.ts),
 * and the concurrency limit is per workspace (MAX_CONCURRENT_RUNS); piling 200 runs into one channel or
 * one workspace would measure those limits, not the instances.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase, type DatabaseTarget } from '../../src/db/connection.js';
import { blockAction, slashCommand, type SignedResponse } from '../../test/helpers/slackRequests.js';
import { build as buildDist, staleReason } from '../build.mjs';
import { startBalancerThread, type BalancerThread } from './balancer.js';
import { bounded } from './bounded.js';
import { spawnChildApp, type ChildApp } from './child.js';
import type { BenchOptions } from './options.js';
import { postgresSource, type FreshDatabase, type PostgresSource } from './postgres.js';
import { ms, renderTable, round, summarize, type Summary } from './stats.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startWorld, taskText, type CardSeen, type World } from './world.js';

/** Runs of the burst per workspace: under the app's per-workspace concurrency limit (10 by default). */
const RUNS_PER_WORKSPACE = 5;

export interface Configuration {
  engine: 'sqlite' | 'postgres';
  instances: number;
}

export interface ConfigurationResult extends Configuration {
  burst: number;
  workspaces: number;
  channels: number;
  startupMs: number[];
  help: Summary;
  helpAcksPerS: number;
  /** The same `/agent help` burst sent straight to the first instance: what the balancer adds. */
  helpDirect: Summary;
  runAck: Summary;
  runAcksPerS: number;
  runFailed: number;
  /** Answers other than 200 to the burst's requests, by status (Bolt answers 404 when a listener has not acked within 3 s). */
  runStatuses: Record<string, number>;
  /** /agent run burst sent -> every approval card posted. */
  cardsPerS: number;
  clickAck: Summary;
  clickAcksPerS: number;
  clickFailed: number;
  clickStatuses: Record<string, number>;
  /** Clicked runs per second, click burst sent -> the last one's final answer posted (what people see; includes the app's Slack pacing). */
  runsCompletedPerS: number;
  /** Clicked runs per second, click burst sent -> the last one `completed` in the database (runs.finished_at): the app's own work. */
  runsFinishedPerS: number;
  /** 1-minute load average of the machine before and after the configuration. */
  load: [number, number];
  /** Click sent -> its mail received at the SMTP server. */
  dispatch: Summary;
  /** Requests the balancer sent to each instance (warm-up included). */
  perInstance: number[];
  exactlyOnce: ExactlyOnce;
}

export interface ExactlyOnce {
  clicked: number;
  /** Clicks answered 200. */
  acked: number;
  mails: number;
  /** Clicks answered 200 whose action sent no mail. */
  missing: number;
  /** Actions that sent more than one mail. */
  duplicated: number;
  /** Mails for runs nobody clicked. */
  unexpected: number;
  /** Clicks answered late or not 200 whose stored decision was still carried out (once). */
  lateButSent: number;
  /** `action_dispatched` rows in the database for the burst's workspaces, and actions with more than one. */
  dispatchedRows: number;
  dispatchedTwice: number;
  ok: boolean;
}

export interface InstancesSection {
  setup: string;
  postgres: string;
  results: ConfigurationResult[];
  notes: string[];
}

export interface InstancesContext {
  o: BenchOptions;
  root: string;
  dir: string;
  /** The app's environment (clean, pointing at this world) before the database is chosen. */
  env(world: World): Record<string, string>;
  log(msg: string): void;
}

/** The warm-up's runs are in a workspace of their own, outside the exactly-once count. */
const WARMUP_TEAM = 'TINSTWARM';
const teamOf = (i: number) => `TINST${String(Math.floor(i / RUNS_PER_WORKSPACE)).padStart(3, '0')}`;
const channelOf = (i: number) => `CINST${String(i).padStart(4, '0')}`;

/** Which configurations run: SQLite with one instance, then Postgres with 1..N when there is a server. */
export function configurations(instances: number, postgres: boolean): Configuration[] {
  const out: Configuration[] = [{ engine: 'sqlite', instances: 1 }];
  if (postgres) for (let n = 1; n <= instances; n++) out.push({ engine: 'postgres', instances: n });
  return out;
}

export async function instancesSection(ctx: InstancesContext): Promise<InstancesSection> {
  const { o, log } = ctx;
  const notes: string[] = [];
  const stale = staleReason();
  if (stale) {
    log(`building dist/ first (${stale})...`);
    buildDist();
  }
  const source = await postgresSource(o.databaseUrl, log);
  const pg: PostgresSource | undefined = 'unavailable' in source ? undefined : source;
  const results: ConfigurationResult[] = [];
  try {
    for (const c of configurations(o.instances, pg !== undefined)) {
      log(`several instances: ${c.engine}, ${c.instances} instance${c.instances > 1 ? 's' : ''}, bursts of ${o.concurrency}...`);
      const t0 = performance.now();
      results.push(await measureConfiguration(ctx, c, pg));
      log(`several instances: ${c.engine} x${c.instances} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await pg?.close();
  }
  for (const r of results) if (!r.exactlyOnce.ok) notes.push(`several instances, ${r.engine} x${r.instances}: EXACTLY-ONCE CHECK FAILED: ${JSON.stringify(r.exactlyOnce)}`);
  const workspaces = Math.ceil(o.concurrency / RUNS_PER_WORKSPACE);
  const setup =
    `each configuration: fresh database, instances = child processes running the compiled app (node scripts/launch.mjs src/main.ts), ` +
    `behind a round-robin loopback HTTP balancer that every request goes through (also with 1 instance); fake Slack without rate limits, ` +
    `fake Claude ${o.modelLatencyMs} ms per call, real SMTP server. Bursts of ${o.concurrency} simultaneous requests, ` +
    `one run per channel (${o.concurrency} channels) and ${RUNS_PER_WORKSPACE} per workspace (${workspaces} workspaces), so neither Slack's ` +
    `per-channel/per-workspace pacing nor the per-workspace concurrency limit is what is measured. Run: send_email (approval) then a final answer.`;
  return { setup, postgres: pg?.describe ?? (source as { unavailable: string }).unavailable, results, notes };
}

async function measureConfiguration(ctx: InstancesContext, c: Configuration, pg: PostgresSource | undefined): Promise<ConfigurationResult> {
  const { o, dir } = ctx;
  const label = `${c.engine}${c.instances}`;
  const world = await startWorld({ modelLatencyMs: o.modelLatencyMs });
  let database: FreshDatabase | undefined;
  const children: ChildApp[] = [];
  let lb: BalancerThread | undefined;
  try {
    let target: DatabaseTarget;
    let dbEnv: Record<string, string>;
    if (c.engine === 'postgres') {
      if (!pg) throw new Error('no PostgreSQL server');
      database = await pg.fresh(label);
      target = { engine: 'postgres', url: database.url };
      dbEnv = { DATABASE_URL: database.url, DATABASE_PATH: join(dir, 'unused-on-postgres.db') };
    } else {
      target = { engine: 'sqlite', path: join(dir, `instances-${label}.db`) };
      dbEnv = { DATABASE_PATH: target.path, DATABASE_URL: '' };
    }
    const env = { ...ctx.env(world), ...dbEnv };
    const cwd = join(dir, `instances-cwd-${label}`);
    mkdirSync(cwd, { recursive: true });
    const spawn = () => spawnChildApp({ root: ctx.root, cwd, env, timeoutMs: 120_000 });
    // The first one migrates the fresh database; the others then start together.
    children.push(await spawn());
    children.push(...(await Promise.all(Array.from({ length: c.instances - 1 }, spawn))));
    lb = await startBalancerThread(children.map((ch) => ch.baseUrl));
    const loadBefore = round(loadavg()[0]!, 2);
    const result = await measureBursts(world, lb.url, children[0]!.baseUrl, o, target, c.instances);
    const { counts, errors, errorCodes } = await lb.stats();
    if (errors > 0) ctx.log(`several instances, ${c.engine} x${c.instances}: the balancer answered 502 ${errors} times (an instance did not answer: ${JSON.stringify(errorCodes)})`);
    return { ...c, ...result, startupMs: children.map((ch) => round(ch.startupMs)), perInstance: counts, load: [loadBefore, round(loadavg()[0]!, 2)] };
  } finally {
    await lb?.close();
    await Promise.all(children.map((ch) => ch.stop()));
    await world.close();
    await database?.drop().catch(() => undefined);
  }
}

type Timed = { t0: number; end: number; ms: number; res: SignedResponse };

async function timed(what: string, p: () => Promise<SignedResponse>): Promise<Timed> {
  const t0 = performance.now();
  const res = await bounded(what, p());
  const end = performance.now();
  return { t0, end, ms: end - t0, res };
}

/** Requests answered per second over a burst: from the first sent to the last answered. */
function perSecond(list: Timed[]): number {
  if (list.length === 0) return Number.NaN;
  const first = Math.min(...list.map((t) => t.t0));
  const last = Math.max(...list.map((t) => t.end));
  return round(list.length / ((last - first) / 1000), 1);
}

let kSeq = 5_000_000;

async function measureBursts(
  world: World,
  url: string,
  directUrl: string,
  o: BenchOptions,
  target: DatabaseTarget,
  instances: number,
): Promise<Omit<ConfigurationResult, keyof Configuration | 'startupMs' | 'perInstance' | 'load'>> {
  const n = o.concurrency;
  const perRun = 2 * o.modelLatencyMs + 2_000;
  const slash = (text: string, i: number, teamId = teamOf(i), via = url) => {
    const channel = channelOf(i);
    const responseUrl = world.slack.responseUrl({ channel, userId: REQUESTER });
    return timed('a slash command', () => slashCommand(via, SIGNING_SECRET, { text, userId: REQUESTER, userName: 'alice', channelId: channel, teamId, responseUrl }));
  };
  const click = (card: CardSeen, team: string) => {
    const responseUrl = world.slack.responseUrl({ channel: card.channel, userId: APPROVER, messageTs: card.ts });
    return timed('an Approve click', () =>
      blockAction(url, SIGNING_SECRET, {
        actionId: 'approval_approve',
        value: card.actionId,
        userId: APPROVER,
        userName: 'bob',
        teamId: team,
        channelId: card.channel,
        messageTs: card.ts,
        ...(card.threadTs ? { threadTs: card.threadTs } : {}),
        responseUrl,
        message: card.message,
      }),
    );
  };
  // Every mail the SMTP server receives, counted by run (the world keeps only the first of each).
  const mailCount = new Map<number, number>();
  const pushMail = world.smtp.mails.push.bind(world.smtp.mails);
  world.smtp.mails.push = (...items) => {
    for (const m of items) {
      const k = Number(/k=(\d+)/.exec(m.headers.subject)?.[1] ?? Number.NaN);
      if (Number.isFinite(k)) mailCount.set(k, (mailCount.get(k) ?? 0) + 1);
    }
    return pushMail(...items);
  };
  const waitFor = (what: string, ks: number[], seen: Map<number, unknown>, timeoutMs: number) =>
    world.waitFor(`${ks.length} ${what}`, () => ks.every((k) => seen.has(k)), timeoutMs);

  // Warm-up (not measured): every instance serves a few whole runs (connections, JIT, lazy paths).
  const warm = Array.from({ length: 2 * instances }, () => ++kSeq);
  const warmSlash = await Promise.all(warm.map((k, j) => slash(`run ${taskText('email', k)}`, n + j, WARMUP_TEAM)));
  for (const s of warmSlash) if (s.res.status !== 200) throw new Error(`warm-up /agent run answered ${s.res.status} ${s.res.body.slice(0, 200)}`);
  await waitFor('warm-up cards', warm, world.cards, 60_000 + perRun);
  await Promise.all(warm.map((k) => click(world.cards.get(k)!, WARMUP_TEAM)));
  await waitFor('warm-up runs to finish', warm, world.done, 60_000 + perRun);
  // And one full-size burst of `/agent help`: without it the first configuration measured pays for the
  // bench's own cold paths (its load generator and fakes at full concurrency), seen as a slower floor.
  await Promise.all(Array.from({ length: n }, (_, j) => slash('help', j)));
  await world.waitQuiet(200, 30_000);

  // The floor: the same burst of `/agent help`, which touches no database and starts nothing.
  const help = await Promise.all(Array.from({ length: n }, (_, i) => slash('help', i)));
  await world.waitQuiet(100, 10_000);
  const helpDirect = await Promise.all(Array.from({ length: n }, (_, i) => slash('help', i, teamOf(i), directUrl)));
  await world.waitQuiet(100, 10_000);

  const ks = Array.from({ length: n }, () => ++kSeq);
  const runs = await Promise.all(ks.map((k, i) => slash(`run ${taskText('email', k)}`, i)));
  const runStart = Math.min(...runs.map((r) => r.t0));
  const acked = ks.filter((_, i) => runs[i]!.res.status === 200 && /Starting run/.test(runs[i]!.res.body));
  if (acked.length === 0) throw new Error(`no /agent run of the burst started: ${runs[0]?.res.status} ${runs[0]?.res.body.slice(0, 200)}`);
  const teamOfK = new Map(ks.map((k, i) => [k, teamOf(i)]));
  await waitFor('approval cards', acked, world.cards, 120_000 + n * 200 + perRun);
  // A run acked too late for Slack (past 3 s) was stored before the ack and still goes on: its card shows
  // up, and a person would click it like any other.
  const unacked = ks.filter((k) => !acked.includes(k));
  if (unacked.length > 0) await waitFor('cards of late-acked runs', unacked, world.cards, 10_000).catch(() => undefined);
  const started = ks.filter((k) => world.cards.has(k));
  const cardsPerS = round(started.length / ((Math.max(...started.map((k) => world.cards.get(k)!.at)) - runStart) / 1000), 1);
  await world.waitQuiet(200, 60_000);

  // Wall clock too: the database stores when each run finished as a timestamp.
  const clickWall = Date.now();
  const clicks = await Promise.all(started.map((k) => click(world.cards.get(k)!, teamOfK.get(k)!)));
  const clickStart = Math.min(...clicks.map((r) => r.t0));
  const approved = started.filter((_, i) => clicks[i]!.res.status === 200);
  await waitFor('mails', approved, world.mails, 120_000 + n * 200);
  await waitFor('final answers', approved, world.done, 120_000 + n * 200 + perRun);
  // A click Slack saw fail (acked past 3 s) may still have been stored and carried out: let those finish too.
  const late = started.filter((k) => !approved.includes(k));
  if (late.length > 0) await waitFor('late-acked runs to finish', late, world.done, 30_000 + perRun).catch(() => undefined);
  const finished = started.filter((k) => world.done.has(k));
  const lastDone = Math.max(...finished.map((k) => world.done.get(k)!));
  const runsCompletedPerS = round(finished.length / ((lastDone - clickStart) / 1000), 1);
  // A second dispatch would come from another instance taking a run over; give it time to show up.
  await world.waitQuiet(1000, 60_000);

  const sentAt = new Map(started.map((k, i) => [k, clicks[i]!.t0]));
  const { exactlyOnce, lastFinished, completed } = await checkDatabase(target, started, approved, ks, mailCount);
  return {
    burst: n,
    workspaces: Math.ceil(n / RUNS_PER_WORKSPACE),
    channels: n,
    help: summarize(help.map((h) => h.ms)),
    helpAcksPerS: perSecond(help),
    helpDirect: summarize(helpDirect.map((h) => h.ms)),
    runAck: summarize(runs.map((r) => r.ms)),
    runAcksPerS: perSecond(runs),
    runFailed: n - acked.length,
    runStatuses: statuses(runs),
    cardsPerS,
    clickAck: summarize(clicks.map((c) => c.ms)),
    clickAcksPerS: perSecond(clicks),
    clickFailed: started.length - approved.length,
    clickStatuses: statuses(clicks),
    runsCompletedPerS,
    runsFinishedPerS: round(completed / ((lastFinished - clickWall) / 1000), 1),
    dispatch: summarize(approved.map((k) => world.mails.get(k)! - sentAt.get(k)!)),
    exactlyOnce,
  };
}

function statuses(list: Timed[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of list) if (t.res.status !== 200) out[String(t.res.status)] = (out[String(t.res.status)] ?? 0) + 1;
  return out;
}

/**
 * Every clicked action dispatched at most once, and exactly once when its click was acked: mails counted at
 * the SMTP server, dispatch rows in the database. Also how many of the burst's runs completed and when the
 * last one did, by the stored timestamps (this machine's clock).
 */
async function checkDatabase(
  target: DatabaseTarget,
  clicked: number[],
  acked: number[],
  burst: number[],
  mailCount: Map<number, number>,
): Promise<{ exactlyOnce: ExactlyOnce; lastFinished: number; completed: number }> {
  const clickedSet = new Set(clicked);
  const ackedSet = new Set(acked);
  const mailsOf = (k: number) => mailCount.get(k) ?? 0;
  const missing = acked.filter((k) => mailsOf(k) === 0).length;
  const duplicated = burst.filter((k) => mailsOf(k) > 1).length;
  const unexpected = burst.filter((k) => !clickedSet.has(k) && mailsOf(k) > 0).length;
  const lateButSent = clicked.filter((k) => !ackedSet.has(k) && mailsOf(k) > 0).length;
  const mails = burst.reduce((sum, k) => sum + mailsOf(k), 0);
  const teams = [...new Set(burst.map((_, i) => teamOf(i)))];
  const { db } = openDatabase(target);
  try {
    const rows = await db
      .selectFrom('activity')
      .select(['action_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('kind', '=', 'action_dispatched')
      .where('team_id', 'in', teams)
      .groupBy('action_id')
      .execute();
    const dispatchedRows = rows.reduce((sum, r) => sum + Number(r.n), 0);
    const dispatchedTwice = rows.filter((r) => Number(r.n) > 1).length;
    const ok = missing === 0 && duplicated === 0 && unexpected === 0 && dispatchedRows === mails && dispatchedTwice === 0;
    const finished = await db
      .selectFrom('runs')
      .select((eb) => [eb.fn.max('finished_at').as('last'), eb.fn.countAll<number>().as('n')])
      .where('team_id', 'in', teams)
      .where('status', '=', 'completed')
      .executeTakeFirstOrThrow();
    const lastFinished = finished.last ? Date.parse(String(finished.last)) : Number.NaN;
    return {
      exactlyOnce: { clicked: clicked.length, acked: acked.length, mails, missing, duplicated, unexpected, lateButSent, dispatchedRows, dispatchedTwice, ok },
      lastFinished,
      completed: Number(finished.n),
    };
  } finally {
    await db.destroy();
  }
}

const p = (s: Summary) => `${ms(s.p50)} / ${ms(s.p99)}`;
const failed = (byStatus: Record<string, number>) => {
  const list = Object.entries(byStatus);
  return list.length ? ` (${list.map(([st, c]) => `${c} x ${st}`).join(', ')})` : '';
};

export function renderInstances(section: InstancesSection): string {
  const rows = section.results.map((r) => [
    r.engine === 'sqlite' ? 'SQLite' : 'PostgreSQL',
    String(r.instances),
    `${p(r.runAck)}${failed(r.runStatuses)}`,
    `${p(r.clickAck)}${failed(r.clickStatuses)}`,
    p(r.help),
    `${r.runAcksPerS} / ${r.clickAcksPerS}`,
    `${r.runsFinishedPerS} / ${r.runsCompletedPerS}`,
    `${r.exactlyOnce.ok ? 'ok' : 'FAILED'}: ${r.exactlyOnce.mails} mails for ${r.exactlyOnce.clicked} clicks${r.exactlyOnce.duplicated ? `, ${r.exactlyOnce.duplicated} sent twice` : ''}${r.exactlyOnce.missing ? `, ${r.exactlyOnce.missing} acked but not sent` : ''}`,
    `${r.load[0]} -> ${r.load[1]}`,
  ]);
  const table = renderTable(
    ['engine', 'inst.', '/agent run ack p50 / p99', 'Approve ack p50 / p99', 'floor: /agent help p50 / p99', 'acks/s run / click', 'runs done/s (DB / Slack)', 'exactly-once (SMTP + DB)', 'load avg'],
    rows,
  );
  const direct = section.results.map((r) => `${r.engine} x${r.instances} ${p(r.helpDirect)}`).join('; ');
  const spread = section.results
    .filter((r) => r.instances > 1)
    .map((r) => `${r.engine} x${r.instances}: requests per instance ${r.perInstance.join(' / ')}`)
    .join('; ');
  return [
    'Several instances',
    `setup: ${section.setup}`,
    `PostgreSQL: ${section.postgres}`,
    '',
    table,
    '',
    'runs done/s: clicked runs per second from the click burst until the last of them was completed in the database (DB) and ' +
      "until its final answer reached Slack (Slack; includes the app's pacing of Slack posts, about 1/s per channel, shared by the instances). " +
      'exactly-once: no action sent twice (mails counted at the SMTP server, dispatches in the database), every click acked 200 sent, nothing ' +
      'unclicked sent. "404": Bolt answered for a listener that had not acked within 3 s (Slack shows the user an error); ' +
      'decisions are stored before the ack, so such a click may still have been carried out, once.',
    `floor without the balancer (/agent help burst straight to one instance, p50 / p99): ${direct}`,
    ...(spread ? [`balancer: ${spread}`] : []),
  ].join('\n');
}
