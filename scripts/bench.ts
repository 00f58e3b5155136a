/**
 * `npm run bench`: measures what users feel, against the real app.
 *
 * The app is the real one: startApp() from src/main.ts (Bolt's HTTP receiver, a fresh SQLite file, the
 * SMTP mailer), run in a worker thread of this process, and for the startup/memory figures the real
 * entry point `node --import tsx src/main.ts` in a child process. What it talks to are the test suite's
 * LOOPBACK FAKES of Slack's Web API and of the Claude API (test/helpers/fakeSlack.ts, fakeClaude.ts; no
 * real Slack or Claude is involved) and the test suite's real SMTP server, all on 127.0.0.1. The load is
 * signed Slack requests (test/helpers/slackRequests.ts), sent from the main thread, so the load generator
 * and the fakes do not share the app's event loop.
 *
 * The "Slack limits" section runs last, each scenario on its own app instance and its own fake Slack with
 * Slack's published rate limits enforced; the other sections keep a fake Slack that never rate-limits, so
 * they measure the app rather than Slack's pacing.
 *
 * The "several instances" section (scripts/bench/instances.ts: --instances, --database-url) runs only when
 * asked: the app as child processes on one PostgreSQL behind a round-robin balancer, next to SQLite.
 *
 * It reports; it never fails on a number. It exits non-zero only when the benchmark itself breaks.
 * See scripts/bench/options.ts (or `npm run bench -- --help`) for the options.
 */
import { execFileSync } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { DEFAULT_RATE_LIMITS } from '../test/helpers/fakeSlack.js';
import { blockAction, slashCommand, type SignedResponse } from '../test/helpers/slackRequests.js';
import { SLACK_LIMITS } from '../src/slack/outbox/pacer.js';
import { startAppThread, type AppThread } from './bench/appThread.js';
import { bounded } from './bench/bounded.js';
import { killChildren, spawnChildApp, type ChildApp } from './bench/child.js';
import { instancesSection, renderInstances, type InstancesSection } from './bench/instances.js';
import { HelpRequested, parseOptions, USAGE, type BenchOptions } from './bench/options.js';
import { build as buildDist, staleReason } from './build.mjs';
import { API_KEY, appEnv } from './bench/appEnv.js';
import { costPhase } from './bench/caching.js';
import { seedSuspendedRuns, type RunTemplate } from './bench/seed.js';
import { measureLimitsScenario, renderLimits, RUN_BUDGET, type LimitsResult, type LimitsScenario } from './bench/slackLimits.js';
import { median, ms, renderTable, round, summarize, type Summary } from './bench/stats.js';
import {
  APPROVER,
  CHANNELS,
  REQUESTER,
  SIGNING_SECRET,
  startWorld,
  taskText,
  TEAM,
  benchTeams,
  placeRun,
  type CardSeen,
  type Scenario,
  type World,
} from './bench/world.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const STATUS_TEAM = 'T_STATUS';

interface Figure {
  key: string;
  figure: string;
  value: string;
  goal: string;
  /** null: report only. */
  met: boolean | null;
  unit: string;
  data: Record<string, unknown>;
}

const figures: Figure[] = [];
const limitsResults: LimitsResult[] = [];
let instances: InstancesSection | undefined;
const LIMITS_SETUP =
  "each scenario on a fresh app (own SQLite file) and its own fake Slack with Slack's limits enforced " +
  `(chat.postMessage ${DEFAULT_RATE_LIMITS.postMessagePerChannel.perSecond}/s per channel, burst ${DEFAULT_RATE_LIMITS.postMessagePerChannel.burst}, ` +
  `${DEFAULT_RATE_LIMITS.postMessagePerWindow}/min per workspace; chat.update ${DEFAULT_RATE_LIMITS.perMethod['chat.update'] ?? DEFAULT_RATE_LIMITS.defaultPerWindow}/min per workspace, Tier 3); ` +
  'the sections above use a fake Slack without limits. Standard run: search, send_email approved as soon as its card shows, final answer; all runs sent at once.';
/** Other work on the machine skews every figure: the report shows the load average around the run. */
const loadAtStart = loadavg().map((v) => v.toFixed(2)).join(' ');
const notes: string[] = [];

/** Which code was measured: the commit, and whether the working tree had changes on top of it. */
function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'db'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim() !== '';
    return `${head}${dirty ? ' + uncommitted changes in src/ or db/' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function addLatency(key: string, figure: string, s: Summary, goalP99: number | null, extra: Record<string, unknown> = {}): void {
  figures.push({
    key,
    figure,
    value: `p50 ${ms(s.p50)} / p99 ${ms(s.p99)} (n=${s.n}, max ${ms(s.max)}${extra['failed'] ? `, ${String(extra['failed'])} failed` : ''})`,
    goal: goalP99 === null ? 'report' : `p99 <= ${goalP99} ms`,
    met: goalP99 === null ? null : s.p99 <= goalP99 && !extra['failed'],
    unit: 'ms',
    data: { ...s, ...extra },
  });
}

/**
 * A latency judged against a reference measured in the same run (the issue's targets are ratios: what the
 * app adds on top of what it cannot go below). Shows the goal, the figure and the ratio.
 */
function addRatio(key: string, figure: string, s: Summary, ref: { label: string; p99: number }, maxRatio: number, extra: Record<string, unknown> = {}): void {
  const ratio = s.p99 / ref.p99;
  figures.push({
    key,
    figure,
    value: `p50 ${ms(s.p50)} / p99 ${ms(s.p99)} (n=${s.n}, max ${ms(s.max)}${extra['failed'] ? `, ${String(extra['failed'])} failed` : ''}); ${ref.label} p99 ${ms(ref.p99)}: ratio ${ratio.toFixed(2)}`,
    goal: `p99 <= ${maxRatio}x ${ref.label} (${ms(maxRatio * ref.p99)})`,
    met: ratio <= maxRatio && !extra['failed'],
    unit: 'ms',
    data: { ...s, ...extra, reference: ref.label, referenceP99: ref.p99, ratio: round(ratio, 3), maxRatio },
  });
}

let kSeq = 0;
const nextK = () => ++kSeq;
const channelFor = (k: number) => CHANNELS[k % CHANNELS.length]!;

/** Notes requests the app answered with anything but 200; returns a short description. */
function failures(what: string, responses: SignedResponse[]): string {
  const bad = responses.filter((r) => r.status !== 200);
  if (bad.length === 0) return '';
  const byStatus = new Map<number, number>();
  for (const r of bad) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const text = `${bad.length} of ${responses.length} ${what} requests were not answered 200 (${[...byStatus].map(([st, c]) => `${c} x ${st}`).join(', ')})`;
  notes.push(text);
  return text;
}

function expectOk(what: string, res: SignedResponse, pattern?: RegExp): void {
  if (res.status !== 200 || (pattern && !pattern.test(res.body))) {
    throw new Error(`${what}: the app answered ${res.status} ${res.body.slice(0, 300)}`);
  }
}

/**
 * A request that got no HTTP answer at all (connection reset or refused, or nothing within 30 s) is a
 * failed request, as Slack would count it, not a broken benchmark: status 0, reported with the others.
 */
async function answered(what: string, request: Promise<SignedResponse>): Promise<SignedResponse> {
  try {
    return await bounded(what, request);
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return { status: 0, body: `${(err as Error).message}${cause ? ` (${String(cause)})` : ''}` };
  }
}

/** Gaps between consecutive model calls within each group of 5 (one run, or one bare loop), in ms. */
function callGaps(requests: ReadonlyArray<{ at: number }>): number[] {
  const gaps: number[] = [];
  for (let i = 0; i + 5 <= requests.length; i += 5) for (let j = i + 1; j < i + 5; j++) gaps.push(requests[j]!.at - requests[j - 1]!.at);
  return gaps;
}

/** One benchmarked app (in-process worker or child) plus the world it talks to. */
class Driver {
  constructor(
    readonly world: World,
    readonly baseUrl: string,
    /** Runs are spread over this many workspaces (scripts/bench/world.ts placeRun). */
    readonly workspaces = 1,
  ) {}

  place(k: number): { team: string; channel: string } {
    return placeRun(k, this.workspaces);
  }

  async slash(text: string, channel: string, teamId = TEAM): Promise<{ ms: number; res: SignedResponse }> {
    const responseUrl = this.world.slack.responseUrl({ channel, userId: REQUESTER });
    const t0 = performance.now();
    const res = await answered('a slash command', slashCommand(this.baseUrl, SIGNING_SECRET, { text, userId: REQUESTER, userName: 'alice', channelId: channel, teamId, responseUrl }));
    return { ms: performance.now() - t0, res };
  }

  startRun(scenario: Scenario, k: number): Promise<{ ms: number; res: SignedResponse }> {
    const { team, channel } = this.place(k);
    return this.slash(`run ${taskText(scenario, k)}`, channel, team);
  }

  async click(card: CardSeen, onSent?: (t0: number) => void): Promise<{ t0: number; ms: number; res: SignedResponse }> {
    const responseUrl = this.world.slack.responseUrl({ channel: card.channel, userId: APPROVER, messageTs: card.ts });
    const t0 = performance.now();
    onSent?.(t0);
    const res = await answered('an Approve click', blockAction(this.baseUrl, SIGNING_SECRET, {
      actionId: 'approval_approve',
      value: card.actionId,
      userId: APPROVER,
      userName: 'bob',
      teamId: this.place(card.k).team,
      channelId: card.channel,
      messageTs: card.ts,
      ...(card.threadTs ? { threadTs: card.threadTs } : {}),
      responseUrl,
      message: card.message,
    }));
    return { t0, ms: performance.now() - t0, res };
  }

  waitCards(ks: number[], timeoutMs: number): Promise<void> {
    return this.world.waitFor(`${ks.length} approval cards`, () => ks.every((k) => this.world.cards.has(k)), timeoutMs);
  }

  waitMails(ks: number[], timeoutMs: number): Promise<void> {
    return this.world.waitFor(`${ks.length} mails at the SMTP server`, () => ks.every((k) => this.world.mails.has(k)), timeoutMs);
  }

  waitDone(ks: number[], timeoutMs: number): Promise<void> {
    return this.world.waitFor(`${ks.length} runs to post their final answer`, () => ks.every((k) => this.world.done.has(k)), timeoutMs);
  }

  /**
   * Keeps `inFlight` runs of `scenario` going until `total` have posted their final answer, approving
   * cards as soon as they appear. With `windowMs`, stops waiting after that long (a measurement window)
   * instead of failing: the caller reports what completed. Without it, not finishing in `timeoutMs` is
   * an error.
   */
  async closedLoop(
    scenario: Scenario,
    total: number,
    inFlight: number,
    limit: { timeoutMs: number; windowMs?: number },
  ): Promise<{ elapsedMs: number; completed: number; launched: number; windowEnded: boolean; runMs: number[]; slashMs: number[]; clickMs: number[]; perTenSeconds: number[] }> {
    const started = new Map<number, number>();
    const runMs: number[] = [];
    const slashMs: number[] = [];
    const clickMs: number[] = [];
    const errors: string[] = [];
    let launched = 0;
    let completed = 0;
    let lastDone = 0;
    let windowEnded = false;
    const launch = () => {
      if (launched >= total || windowEnded) return;
      launched++;
      const k = nextK();
      started.set(k, performance.now());
      this.startRun(scenario, k).then(
        (r) => {
          if (r.res.status !== 200) errors.push(`/agent run answered ${r.res.status}`);
          slashMs.push(r.ms);
        },
        (err: unknown) => errors.push(`/agent run failed: ${String(err)}`),
      );
    };
    const prevCard = this.world.onCard;
    const prevDone = this.world.onDone;
    this.world.onCard = (card) => {
      if (!started.has(card.k) || windowEnded) return;
      this.click(card).then(
        (r) => {
          if (r.res.status !== 200) errors.push(`Approve answered ${r.res.status}`);
          clickMs.push(r.ms);
        },
        (err: unknown) => errors.push(`Approve failed: ${String(err)}`),
      );
    };
    this.world.onDone = (k, at) => {
      const t0 = started.get(k);
      if (t0 === undefined || windowEnded) return;
      runMs.push(at - t0);
      doneAt.push(at);
      completed++;
      lastDone = at;
      launch();
    };
    const doneAt: number[] = [];
    const t0 = performance.now();
    const window =
      limit.windowMs !== undefined
        ? setTimeout(() => {
            windowEnded = true;
            this.world.recheck();
          }, limit.windowMs)
        : undefined;
    try {
      for (let i = 0; i < Math.min(inFlight, total); i++) launch();
      await this.world.waitFor(
        `${total} ${scenario} runs to complete (${inFlight} in flight)`,
        () => completed >= total || errors.length > 0 || windowEnded,
        limit.windowMs !== undefined ? limit.windowMs + 60_000 : limit.timeoutMs,
      );
      if (errors.length > 0) throw new Error(`requests failed: ${[...new Set(errors)].slice(0, 5).join('; ')}`);
    } catch (err) {
      throw new Error(`${(err as Error).message} (completed ${completed}/${total}, launched ${launched})`);
    } finally {
      clearTimeout(window);
      windowEnded = true;
      this.world.onCard = prevCard;
      this.world.onDone = prevDone;
    }
    const elapsedMs = completed >= total ? lastDone - t0 : performance.now() - t0;
    // Completions per 10 s: shows a ramp, a steady state, or a stall.
    const perTenSeconds = Array.from({ length: Math.ceil(elapsedMs / 10_000) }, (_, i) => doneAt.filter((at) => at - t0 >= i * 10_000 && at - t0 < (i + 1) * 10_000).length);
    return { elapsedMs, completed, launched, windowEnded: completed < total, runMs, slashMs, clickMs, perTenSeconds };
  }
}

/** Runs one phase; with --profile, CPU-profiles the app thread (and the bench's own main thread) meanwhile. */
async function withProfile<T>(app: AppThread, o: BenchOptions, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log(`${name}...`);
  let session: Session | undefined;
  if (o.profileDir) {
    await app.call({ cmd: 'profileStart' }, 10_000);
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  try {
    return await fn();
  } finally {
    if (o.profileDir && session) {
      await app.call({ cmd: 'profileStop', file: join(o.profileDir, `${name}.app.cpuprofile`) }, 30_000).catch(() => undefined);
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(o.profileDir, `${name}.bench-main.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    }
    log(`${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

async function inProcessPhases(o: BenchOptions, dir: string): Promise<RunTemplate> {
  const world = await startWorld({ modelLatencyMs: o.modelLatencyMs });
  let app: AppThread | undefined;
  try {
    app = await startAppThread();
    const { port } = await app.start(appEnv(world, dir, join(dir, 'app.db'), o));
    const d = new Driver(world, `http://127.0.0.1:${port}`, o.workspaces);
    const perRun = 5 * o.modelLatencyMs + 2_000;

    // Warm-up (not measured): first connections, lazy module paths, JIT. It also leaves one run
    // suspended on its card long enough to copy it: the template for seeding suspended runs.
    let template: RunTemplate | undefined;
    await withProfile(app, o, 'warmup', async () => {
      await d.closedLoop('email', 4, 2, { timeoutMs: 30_000 + 4 * perRun });
      await d.closedLoop('turns5', 1, 1, { timeoutMs: 30_000 + perRun });
      const k = nextK();
      expectOk('/agent run', (await d.startRun('email', k)).res, /Starting run/);
      await d.waitCards([k], 30_000 + perRun);
      await world.waitQuiet(100, 10_000);
      template = await app!.snapshot(d.place(k).team);
      expectOk('Approve', (await d.click(world.cards.get(k)!)).res);
      await d.waitDone([k], 30_000 + perRun);
      await world.waitQuiet(100, 10_000);
    });
    if (!template) throw new Error('could not copy a suspended run to seed from');
    const tpl: RunTemplate = template;

    // Per-turn overhead: the same 5 model turns through the app, and through a bare SDK loop.
    if (o.phases.has('overhead')) await withProfile(app, o, 'overhead', async () => {
      const appWalls: number[] = [];
      // The app thread's busy time per run (the request, the steps, the Slack posts): the CPU the overhead
      // is made of, steadier than a difference of wall times on a shared machine.
      const appBusy: number[] = [];
      let bodies: unknown[] | undefined;
      const appFrom = world.claude.requests.length;
      for (let r = 0; r < o.overheadRepeats; r++) {
        const k = nextK();
        world.recordBodiesOf.add(k);
        const busy0 = app!.busyMs();
        const t0 = performance.now();
        const { res } = await d.startRun('turns5', k);
        expectOk('/agent run', res, /Starting run/);
        await d.waitDone([k], 30_000 + perRun);
        appWalls.push(world.done.get(k)! - t0);
        bodies ??= world.bodies.get(k);
        await world.waitQuiet(50, 10_000);
        appBusy.push(app!.busyMs() - busy0);
      }
      if (!bodies || bodies.length !== 5) throw new Error(`expected the 5-turn run to make 5 model calls, saw ${bodies?.length ?? 0}`);
      const bareFrom = world.claude.requests.length;
      const bareBusy0 = app!.busyMs();
      const bareWalls = await app!.call<number[]>({ cmd: 'bare', baseUrl: world.claude.url, apiKey: API_KEY, bodies, repeats: o.overheadRepeats }, 30_000 + o.overheadRepeats * perRun);
      const bareBusy = (app!.busyMs() - bareBusy0) / o.overheadRepeats;
      // Where the overhead sits: between two model calls of a run (the step's own work, paid every turn)
      // or at the run's start and end (the signed command, its ack, the task message, the final answer),
      // from the fake Claude's arrival times (runs and bare loops go one at a time, 5 calls each).
      const loopGap = median(callGaps(world.claude.requests.slice(appFrom, bareFrom))) - median(callGaps(world.claude.requests.slice(bareFrom)));
      const appMs = median(appWalls);
      const bareMs = median(bareWalls);
      const perTurn = (appMs - bareMs) / 5;
      const ratio = appMs / bareMs;
      figures.push({
        key: 'per_turn_overhead_ms',
        figure: 'per-turn overhead (5-turn run vs bare messages.create loop)',
        value: `${perTurn.toFixed(1)} ms/turn (app ${Math.round(appMs)} ms vs bare ${Math.round(bareMs)} ms, median of ${o.overheadRepeats})`,
        goal: '<= 5 ms per turn',
        met: perTurn <= 5,
        unit: 'ms',
        data: { perTurnMs: round(perTurn, 2), appMs: round(appMs), bareMs: round(bareMs), appWalls: appWalls.map((v) => round(v)), bareWalls: bareWalls.map((v) => round(v)) },
      });
      figures.push({
        key: 'per_turn_overhead_split',
        figure: '  of which: between model calls, per turn (median gap, app - bare) / start and end, per run',
        value: `${loopGap.toFixed(1)} ms per turn / ${Math.round(appMs - bareMs - 4 * loopGap)} ms per run`,
        goal: 'report',
        met: null,
        unit: 'ms',
        data: { loopGapMs: round(loopGap, 2), startEndMs: round(appMs - bareMs - 4 * loopGap) },
      });
      figures.push({
        key: 'per_turn_busy_ms',
        figure: '  app thread busy per 5-turn run: the app / the bare loop (per turn)',
        value: `${median(appBusy).toFixed(1)} / ${bareBusy.toFixed(1)} ms (${((median(appBusy) - bareBusy) / 5).toFixed(1)} ms per turn)`,
        goal: 'report',
        met: null,
        unit: 'ms',
        data: { appBusyMs: round(median(appBusy), 2), bareBusyMs: round(bareBusy, 2), perTurnMs: round((median(appBusy) - bareBusy) / 5, 2), appBusy: appBusy.map((v) => round(v, 1)) },
      });
      figures.push({
        key: 'per_turn_overhead_ratio',
        figure: 'per-turn overhead as a ratio (app / bare)',
        value: ratio.toFixed(3),
        goal: '<= 1.02',
        met: ratio <= 1.02,
        unit: 'ratio',
        data: { ratio: round(ratio, 4) },
      });
    });

    // Click -> dispatch on an otherwise idle app: one click at a time.
    if (o.phases.has('isolated')) await withProfile(app, o, 'isolated', async () => {
      const ks = Array.from({ length: o.isolatedClicks }, nextK);
      const starts = await Promise.all(ks.map((k) => d.startRun('email', k)));
      for (const s of starts) expectOk('/agent run', s.res, /Starting run/);
      await d.waitCards(ks, 30_000 + ks.length * 100 + perRun);
      await world.waitQuiet(100, 20_000);
      const ack: number[] = [];
      const received: number[] = [];
      const exchange: number[] = [];
      for (const k of ks) {
        const { t0, ms: ackMs, res } = await d.click(world.cards.get(k)!);
        expectOk('Approve', res);
        ack.push(ackMs);
        await d.waitMails([k], 15_000);
        received.push(world.mails.get(k)! - t0);
        await d.waitDone([k], 15_000 + perRun);
        await world.waitQuiet(20, 10_000);
        // The connector's own exchange under the same conditions, right after: the app's SMTP connector
        // (pooled, warm, as the app's is after its previous sends) sending one mail through the same relay,
        // timed by its caller on the app's thread. The app's connections are pooled, so "when the app
        // opened its connection" says nothing about a click; this is what a click cannot go below.
        const ek = nextK();
        const ex = await app!.call<{ sendMs: number }>({ cmd: 'smtpExchange', smtpUrl: world.smtpUrl, k: ek }, 20_000);
        await d.waitMails([ek], 15_000);
        exchange.push(ex.sendMs);
        await world.waitQuiet(20, 10_000);
      }
      const ex = summarize(exchange);
      addRatio('click_dispatch_isolated_ms', 'click -> dispatch, one click at a time (click sent -> mail received)', summarize(received), { label: 'SMTP exchange', p99: ex.p99 }, 1.2);
      addLatency('smtp_exchange_ms', "  reference: the SMTP connector's own exchange (send() of one mail, warm pool, same relay)", ex, null);
      addLatency('click_ack_isolated_ms', 'button-click ack, one click at a time', summarize(ack), null);
    });

    // Bursts: N concurrent /agent run, then N concurrent Approve clicks on distinct cards.
    if (o.phases.has('burst')) await withProfile(app, o, 'burst', async () => {
      const n = o.concurrency;
      // The floor under any ack: the same burst of `/agent help`, which touches no database and starts
      // nothing, so its latency is Node's HTTP server plus Bolt (signature, parsing, middleware).
      // It is measured right before each burst, so both see the same machine (it is shared and noisy).
      // The app thread's busy time from the first request sent to the last answer, per request: what
      // each kind of request costs the one event loop that answers them all (docs/performance.md).
      const busy: Record<'help' | 'run' | 'clickHelp' | 'click', number> = { help: 0, run: 0, clickHelp: 0, click: 0 };
      const timedBusy = async <T>(key: keyof typeof busy, count: number, fn: () => Promise<T>): Promise<T> => {
        const before = app!.busyMs();
        const r = await fn();
        busy[key] = (app!.busyMs() - before) / count;
        return r;
      };
      const floor = async (key: 'help' | 'clickHelp'): Promise<Summary> => {
        const help = await timedBusy(key, n, () => Promise.all(Array.from({ length: n }, (_, i) => d.slash('help', channelFor(i), d.place(i).team))));
        failures('/agent help', help.map((h) => h.res));
        await world.waitQuiet(100, 10_000);
        return summarize(help.map((h) => h.ms));
      };
      const helpAck = await floor('help');

      const ks = Array.from({ length: n }, nextK);
      const slash = await timedBusy('run', n, () => Promise.all(ks.map((k) => d.startRun('email', k))));
      // A request the app did not answer properly (Bolt answers 404 when a listener has not acked within
      // 3 s) is a result, not a benchmark failure: count it, and follow only the runs that started.
      const started = ks.filter((_, i) => slash[i]!.res.status === 200 && /Starting run/.test(slash[i]!.res.body));
      const slashFailed = failures('/agent run', slash.map((s) => s.res));
      if (started.length === 0) throw new Error(`no /agent run of the burst succeeded: ${slashFailed}`);
      addRatio('slash_ack_ms', `slash-command ack (${n} concurrent /agent run)`, summarize(slash.map((s) => s.ms)), { label: 'floor', p99: helpAck.p99 }, 1.5, { failed: n - started.length });
      addLatency('help_ack_ms', `  floor: ${n} concurrent /agent help (HTTP + Bolt only, no DB), just before`, helpAck, null);

      await d.waitCards(started, 60_000 + n * 200 + perRun);
      await world.waitQuiet(200, 60_000);

      const clickFloor = await floor('clickHelp');
      const sent = new Map<number, number>();
      const clicks = await timedBusy('click', started.length, () => Promise.all(started.map((k) => d.click(world.cards.get(k)!, (t0) => sent.set(k, t0)))));
      const approved = started.filter((_, i) => clicks[i]!.res.status === 200);
      failures('Approve', clicks.map((c) => c.res));
      if (approved.length === 0) throw new Error('no Approve click of the burst succeeded');
      addRatio('click_ack_ms', `button-click ack (${started.length} concurrent Approve clicks, distinct cards)`, summarize(clicks.map((c) => c.ms)), { label: 'floor', p99: clickFloor.p99 }, 1.5, { failed: started.length - approved.length });
      addLatency('help_ack_click_ms', `  floor: ${n} concurrent /agent help, just before the clicks`, clickFloor, null);
      figures.push({
        key: 'burst_busy_per_request_ms',
        figure: '  app thread busy per request in each burst: /agent help / /agent run; /agent help / Approve',
        value: `${busy.help.toFixed(2)} / ${busy.run.toFixed(2)} ms (x${(busy.run / busy.help).toFixed(2)}); ${busy.clickHelp.toFixed(2)} / ${busy.click.toFixed(2)} ms (x${(busy.click / busy.clickHelp).toFixed(2)})`,
        goal: 'report',
        met: null,
        unit: 'ms',
        data: { helpMs: round(busy.help, 3), runMs: round(busy.run, 3), clickHelpMs: round(busy.clickHelp, 3), clickMs: round(busy.click, 3) },
      });
      await d.waitMails(approved, 60_000 + n * 200);
      addLatency('click_dispatch_burst_ms', `click -> dispatch during the ${approved.length}-click burst (-> mail received)`, summarize(approved.map((k) => world.mails.get(k)! - sent.get(k)!)), null);
      await d.waitDone(approved, 60_000 + n * 200 + perRun);
      await world.waitQuiet(100, 30_000);
    });

    // `/agent status` with 500 pending approvals in the workspace.
    if (o.phases.has('status')) await withProfile(app, o, 'status', async () => {
      await app!.call({ cmd: 'seed', template: tpl, count: o.statusPending, teamId: STATUS_TEAM, channel: CHANNELS[0]! }, 60_000);
      const times: number[] = [];
      for (let i = 0; i < o.statusRequests; i++) {
        const { ms: t, res } = await d.slash('status', CHANNELS[0]!, STATUS_TEAM);
        expectOk('/agent status', res, new RegExp(`${o.statusPending}`));
        times.push(t);
      }
      addLatency('status_ms', `/agent status with ${o.statusPending} pending approvals (ack + render)`, summarize(times), 100);
    });

    // Throughput: runs of 3 turns and one approval, `concurrency` in flight, approved as cards appear.
    if (o.phases.has('throughput')) await withProfile(app, o, 'throughput', async () => {
      const callsBefore = world.slack.calls.length;
      const r = await d.closedLoop('approve3', o.runs, o.concurrency, { timeoutMs: 0, windowMs: o.throughputWindowS * 1000 });
      if (r.completed === 0) throw new Error(`no run completed within the ${o.throughputWindowS} s throughput window`);
      // Slack Web API calls the app made per completed run, by method: what a run costs in Slack's rate limits.
      const byMethod = new Map<string, number>();
      for (const c of world.slack.calls.slice(callsBefore)) byMethod.set(c.method, (byMethod.get(c.method) ?? 0) + 1);
      const slackPerRun = Object.fromEntries([...byMethod].sort((a, b) => b[1] - a[1]).map(([m, n]) => [m, round(n / r.completed, 1)]));
      notes.push(`throughput: Slack Web API calls per completed run: ${Object.entries(slackPerRun).map(([m, n]) => `${m} ${n}`).join(', ')}`);
      const perSec = r.completed / (r.elapsedMs / 1000);
      const run = summarize(r.runMs);
      const cut = r.windowEnded ? `; window of ${o.throughputWindowS} s ended with ${r.completed} of ${o.runs} done` : '';
      if (r.windowEnded) {
        const c = await app!.call<{ byStatus: Record<string, number> }>({ cmd: 'counts', teamId: benchTeams(o.workspaces) }, 10_000);
        notes.push(
          `throughput: the ${o.throughputWindowS} s window ended before ${o.runs} runs completed (${r.completed} completed, ${r.launched} started; ` +
            `runs by status in the app then: ${JSON.stringify(c.byStatus)}; completions per 10 s: ${r.perTenSeconds.join(' ')})`,
        );
      }
      figures.push({
        key: 'throughput_runs_per_s',
        figure: `throughput (${Math.min(o.concurrency, o.runs)} runs in flight, 3 turns + 1 approval each)`,
        value: `${perSec.toFixed(1)} runs/s (${r.completed} runs in ${(r.elapsedMs / 1000).toFixed(1)} s${cut}; run wall p50 ${ms(run.p50)}, p99 ${ms(run.p99)})`,
        goal: 'report',
        met: null,
        unit: 'runs/s',
        data: { runsPerSecond: round(perSec, 2), completionsPer10s: r.perTenSeconds, slackCallsPerRun: slackPerRun, completed: r.completed, started: r.launched, windowEnded: r.windowEnded, elapsedMs: round(r.elapsedMs), runWall: run, slashAck: summarize(r.slashMs), clickAck: summarize(r.clickMs) },
      });
    });

    const counts = await app.call<{ byStatus: Record<string, number>; errors: Record<string, number> }>({ cmd: 'counts', teamId: benchTeams(o.workspaces) }, 10_000);
    const bad = Object.entries(counts.byStatus).filter(([s]) => s !== 'completed');
    if (bad.length > 0 || Object.keys(counts.errors).length > 0) {
      notes.push(`in-process app: runs not completed: ${JSON.stringify(counts.byStatus)}, errors ${JSON.stringify(counts.errors)}`);
    }
    return tpl;
  } finally {
    await app?.close();
    await world.close();
  }
}

async function childPhases(o: BenchOptions, dir: string, template: RunTemplate): Promise<void> {
  if (!o.phases.has('startup') && !o.phases.has('memory')) return;
  // Seed the database the child will open: real migrations, then clones of a real suspended run. They
  // are spread over 50 workspaces so the active runs' workspace stays under the approval-queue limit.
  log(`seeding ${o.suspended} suspended runs...`);
  const seededPath = join(dir, 'seeded.db');
  {
    const { db } = openDatabase(seededPath);
    await migrateToLatest(db);
    await seedSuspendedRuns(db, template, { count: o.suspended, teamFor: (i) => `T_SEED${i % 50}`, channelFor: (i) => CHANNELS[i % CHANNELS.length]! });
    const n = await db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'awaiting_approval').executeTakeFirstOrThrow();
    await db.destroy();
    if (Number(n.n) !== o.suspended) throw new Error(`seeded ${n.n} suspended runs, expected ${o.suspended}`);
  }

  // The child runs the compiled app, as `npm start` does; building is not part of a start.
  const stale = staleReason();
  if (stale) {
    log(`building dist/ first (${stale})...`);
    buildDist();
  }
  const world = await startWorld({ modelLatencyMs: o.modelLatencyMs });
  let child: ChildApp | undefined;
  try {
    const env = (dbPath: string) => ({ ...cleanEnv(), ...appEnv(world, dir, dbPath, o) });
    const childCwd = join(dir, 'cwd');
    mkdirSync(childCwd, { recursive: true });

    if (o.phases.has('startup')) {
      // Each try on a fresh empty file (migrations included), median of --startup-spawns like the seeded case:
      // one sample moved by 300 ms between runs on this machine.
      log(`startup, empty database (x${o.startupSpawns})...`);
      const emptyStartups: number[] = [];
      const emptyCpus: number[] = [];
      for (let i = 0; i < o.startupSpawns; i++) {
        child = await spawnChildApp({ root: ROOT, cwd: childCwd, env: env(join(dir, `empty-${i}.db`)), timeoutMs: 60_000 });
        emptyStartups.push(child.startupMs);
        if (child.startupCpuMs !== undefined) emptyCpus.push(child.startupCpuMs);
        await child.stop();
        child = undefined;
      }
      const emptyStartup = median(emptyStartups);
      const emptyCpu = emptyCpus.length ? median(emptyCpus) : undefined;
      figures.push({
        key: 'startup_empty_ms',
        figure: 'startup, empty database (node scripts/launch.mjs src/main.ts -> /healthz 200)',
        value: `${ms(emptyStartup)} (median of ${emptyStartups.length}: ${emptyStartups.map((v) => Math.round(v)).join(', ')} ms${emptyCpu !== undefined ? `; CPU ${ms(emptyCpu)}` : ''})`,
        goal: '<= 1000 ms',
        met: emptyStartup <= 1000,
        unit: 'ms',
        data: { ms: round(emptyStartup), samples: emptyStartups.map((v) => round(v)), cpuMs: emptyCpu },
      });
      // The same through `npm start` itself: npm's own start-up comes on top.
      child = await spawnChildApp({ root: ROOT, cwd: childCwd, env: env(join(dir, 'empty-npm.db')), timeoutMs: 60_000, via: 'npm' });
      const npmStartup = child.startupMs;
      await child.stop();
      child = undefined;
      figures.push({
        key: 'startup_empty_npm_ms',
        figure: '  the same through `npm start` (npm itself included)',
        value: ms(npmStartup),
        goal: 'report',
        met: null,
        unit: 'ms',
        data: { ms: round(npmStartup) },
      });

      log(`startup with ${o.suspended} suspended runs (x${o.startupSpawns})...`);
      const startups: number[] = [];
      const cpus: number[] = [];
      for (let i = 0; i < o.startupSpawns; i++) {
        if (child) await child.stop();
        child = await spawnChildApp({ root: ROOT, cwd: childCwd, env: env(seededPath), timeoutMs: 60_000 });
        startups.push(child.startupMs);
        if (child.startupCpuMs !== undefined) cpus.push(child.startupCpuMs);
      }
      const startup = median(startups);
      figures.push({
        key: 'startup_suspended_ms',
        figure: `startup with ${o.suspended} suspended runs (process start -> /healthz 200)`,
        value: `${ms(startup)} (median of ${startups.length}: ${startups.map((v) => Math.round(v)).join(', ')} ms${cpus.length ? `; CPU ${ms(median(cpus))}` : ''})`,
        goal: '<= 1500 ms',
        met: startup <= 1500,
        unit: 'ms',
        data: { ms: round(startup), samples: startups.map((v) => round(v)), cpuMs: cpus.length ? median(cpus) : undefined },
      });
    }
    if (!o.phases.has('memory')) return;
    child ??= await spawnChildApp({ root: ROOT, cwd: childCwd, env: env(seededPath), timeoutMs: 60_000 });
    const idleRss = child.rssMiB();

    const active = o.concurrency;
    log(`memory: ${active} active runs on top of ${o.suspended} suspended...`);
    const d = new Driver(world, child.baseUrl, o.workspaces);
    // The peak is read while the runs are in flight; they need not all finish for that, so this phase
    // is bounded by a window too.
    const r = await d.closedLoop('approve3', active, active, { timeoutMs: 0, windowMs: o.memoryWindowS * 1000 });
    const peakMB = (child.peakRssMiB() * 1024 * 1024) / 1e6;
    const idleMB = (idleRss * 1024 * 1024) / 1e6;
    if (r.windowEnded) notes.push(`memory: ${r.completed} of ${active} active runs completed within the ${o.memoryWindowS} s window; the peak was read with the rest still in flight`);
    figures.push({
      key: 'peak_rss_mb',
      figure: `memory: peak RSS, ${o.suspended} suspended + ${active} active runs (child process)`,
      value: `${peakMB.toFixed(1)} MB (idle after startup: ${idleMB.toFixed(1)} MB; ${r.completed}/${active} runs completed${r.windowEnded ? ` in the ${o.memoryWindowS} s window` : ''})`,
      goal: '<= 200 MB',
      met: peakMB <= 200,
      unit: 'MB',
      data: { peakMB: round(peakMB), idleAfterStartupMB: round(idleMB), activeRuns: active, completed: r.completed, windowEnded: r.windowEnded, activeElapsedMs: round(r.elapsedMs) },
    });
    await child.stop();
    child = undefined;
  } finally {
    await child?.stop();
    await world.close();
  }
}

/** "Slack limits": bursts of the standard run with Slack's limits enforced, in one channel and spread out. */
async function limitsPhase(o: BenchOptions, dir: string): Promise<void> {
  if (!o.phases.has('limits')) return;
  const n = o.limitsRuns;
  const scenarios: LimitsScenario[] = [
    { label: `${n} runs, 1 channel`, runs: n, channels: [CHANNELS[0]!] },
    { label: `${n} runs, ${o.limitsChannels} channels`, runs: n, channels: CHANNELS.slice(0, o.limitsChannels) },
  ];
  for (const [i, scenario] of scenarios.entries()) {
    // A fresh workspace budget per scenario: Slack's windows (and the app's pacer) start empty, as for a
    // batch of runs at 09:00, and one scenario's spending does not slow the next.
    const world = await startWorld({ modelLatencyMs: o.modelLatencyMs, slackRateLimits: true });
    let app: AppThread | undefined;
    try {
      app = await startAppThread();
      const { port } = await app.start(appEnv(world, dir, join(dir, `limits-${i}.db`), o));
      const d = new Driver(world, `http://127.0.0.1:${port}`);
      const running = app;
      const r = await withProfile(running, o, `limits-${i}`, () =>
        measureLimitsScenario(scenario, {
          world,
          driver: d,
          nextK,
          drained: () => running.call({ cmd: 'drained' }, 120_000),
          runStatuses: async () => (await running.call<{ byStatus: Record<string, number> }>({ cmd: 'counts', teamId: TEAM }, 10_000)).byStatus,
          slackLimits: DEFAULT_RATE_LIMITS,
          appLimits: SLACK_LIMITS,
        }),
      );
      limitsResults.push(r);
      for (const p of r.problems.slice(0, 10)) notes.push(`slack limits, ${r.label}: ${p}`);
      if (r.problems.length > 10) notes.push(`slack limits, ${r.label}: ${r.problems.length - 10} more problems`);
      if (Object.keys(r.unattributed).length > 0) notes.push(`slack limits, ${r.label}: calls not attributable to a run: ${JSON.stringify(r.unattributed)}`);
    } finally {
      await app?.close();
      await world.close();
    }
  }
}

/** The child gets a clean environment: nothing from the caller's shell leaks into its config. */
function cleanEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SystemRoot'];
  const out: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) out[k] = process.env[k]!;
  return out;
}

function report(o: BenchOptions, startedAt: Date, elapsedS: number): void {
  const rows = figures.map((f) => [f.figure, f.value, f.goal, f.met === null ? '-' : f.met ? 'yes' : 'NO']);
  const load = loadavg().map((v) => v.toFixed(2)).join(' ');
  const code = gitState();
  const header =
    `Benchmark (${o.quick ? 'quick' : 'full'}): node ${process.version}, ${cpus().length} cpu (${cpus()[0]?.model ?? '?'}), ` +
    `fake model latency ${o.modelLatencyMs} ms, took ${elapsedS.toFixed(0)} s; load average at start ${loadAtStart}, at end ${load}\n` +
    `runs of the bursts, throughput and memory: spread over ${o.workspaces} workspace(s) x ${CHANNELS.length} channels (Slack's limits and the app's pacing are per workspace and channel; --workspaces)\n` +
    `code: ${code}${Object.keys(o.appEnv).length ? `; app env: ${Object.entries(o.appEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
  process.stdout.write(`\n${header}\n`);
  if (rows.length > 0) process.stdout.write(`\n${renderTable(['figure', 'value', 'goal', 'met?'], rows)}\n`);
  if (limitsResults.length > 0) process.stdout.write(`\n${renderLimits(limitsResults, LIMITS_SETUP)}\n`);
  if (instances) process.stdout.write(`\n${renderInstances(instances)}\n`);
  for (const n of notes) process.stdout.write(`\nnote: ${n}\n`);
  if (o.out) {
    const json = {
      startedAt: startedAt.toISOString(),
      elapsedSeconds: round(elapsedS),
      mode: o.quick ? 'quick' : 'full',
      machine: { node: process.version, platform: process.platform, cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMB: Math.round(totalmem() / 1e6), loadAvgAtStart: loadAtStart, loadAvgAtEnd: load },
      code,
      options: { runs: o.runs, concurrency: o.concurrency, modelLatencyMs: o.modelLatencyMs, suspended: o.suspended, statusPending: o.statusPending, limitsRuns: o.limitsRuns, limitsChannels: o.limitsChannels, workspaces: o.workspaces, appEnv: o.appEnv, phases: [...o.phases] },
      figures: figures.map((f) => ({ key: f.key, figure: f.figure, value: f.value, goal: f.goal, met: f.met, unit: f.unit, ...f.data })),
      slackLimits: { setup: LIMITS_SETUP, slackLimits: DEFAULT_RATE_LIMITS, appPacing: SLACK_LIMITS, runBudget: RUN_BUDGET, scenarios: limitsResults },
      notes,
      ...(instances ? { instances } : {}),
    };
    writeFileSync(o.out, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nwrote ${o.out}\n`);
  }
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const startedAt = new Date();
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'agent-bench-'));
  mkdirSync(join(dir, 'knowledge'));
  writeFileSync(join(dir, 'knowledge', 'q2.md'), '# Q2 report\nRevenue grew 12% in Q2. Churn fell to 2.1%.\n');
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: aborted: still running after ${o.timeoutS} s (--timeout-s); figures measured so far follow\n`);
    killChildren();
    notes.push(`INCOMPLETE: the bench was aborted after ${o.timeoutS} s`);
    report({ ...o, out: undefined }, startedAt, (performance.now() - t0) / 1000);
    rmSync(dir, { recursive: true, force: true });
    process.exit(3);
  }, o.timeoutS * 1000);

  if (o.profileDir) mkdirSync(o.profileDir, { recursive: true });
  try {
    // Empty only when the "several instances" section was asked for alone (--instances).
    if (o.phases.size > 0) await childPhases(o, dir, await inProcessPhases(o, dir));
    await limitsPhase(o, dir);
    // Cost per realistic run with and without prompt caching (scripts/bench/caching.ts).
    if (o.phases.has('cost')) {
      const env = (world: World, dbPath: string, model: string, knowledgeDir: string) => ({ ...appEnv(world, dir, dbPath, o), ANTHROPIC_MODEL: model, KNOWLEDGE_DIR: knowledgeDir });
      figures.push(...(await costPhase({ quick: o.quick, modelLatencyMs: o.modelLatencyMs, dir, env, log })));
    }
    if (o.instances > 0) {
      instances = await instancesSection({ o, root: ROOT, dir, env: (world) => ({ ...cleanEnv(), ...appEnv(world, dir, join(dir, 'unused.db'), o) }), log });
      notes.push(...instances.notes);
    }
    report(o, startedAt, (performance.now() - t0) / 1000);
    return 0;
  } catch (err) {
    process.stderr.write(`\nbench: FAILED (the benchmark broke, this is not a measurement): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (figures.length > 0 || limitsResults.length > 0 || instances) report({ ...o, out: undefined }, startedAt, (performance.now() - t0) / 1000);
    return 1;
  } finally {
    clearTimeout(watchdog);
    killChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: FAILED: ${String(err)}\n`);
    killChildren();
    process.exit(1);
  },
);
