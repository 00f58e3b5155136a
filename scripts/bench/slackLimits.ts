/**
 * The "Slack limits" section of `npm run bench`: N standard runs (a knowledge-base search, a send_email
 * approved as soon as its card shows, a final answer) started at once, against a fake Slack that enforces
 * Slack's published rate limits (test/helpers/fakeSlackRateLimits.ts). It measures what people wait for
 * (every card, every run done as they see it), what a run costs in Slack calls, the 429s the app drew,
 * and how the completions compare with the ceiling that the limits and the per-run cost allow.
 */
import { performance } from 'node:perf_hooks';
import type { FakeSlackCall, FakeSlackRateLimitConfig } from '../../test/helpers/fakeSlack.js';
import { isRateLimitExempt } from '../../test/helpers/fakeSlackRateLimits.js';
import type { SignedResponse } from '../../test/helpers/slackRequests.js';
import type { PacerLimits } from '../../src/slack/outbox/pacer.js';
import { renderTable, round } from './stats.js';
import { answerK, findApproveValue, markedK, taskSaysCompleted, taskText, type CardSeen, type World } from './world.js';

/** The issue's Slack budget for the standard run (3 turns, 1 approval). */
export const RUN_BUDGET = { 'chat.postMessage': 3, 'chat.update': 3 } as const;
type Budgeted = keyof typeof RUN_BUDGET;
const BUDGETED = Object.keys(RUN_BUDGET) as Budgeted[];

export interface LimitsDriver {
  slash(text: string, channel: string): Promise<{ ms: number; res: SignedResponse }>;
  click(card: CardSeen): Promise<{ ms: number; res: SignedResponse }>;
}

export interface LimitsScenario {
  label: string;
  runs: number;
  channels: string[];
}

/** Per-minute rates of the limits a ceiling is derived from (Slack's, or the app's own pacing). */
export interface RateLimits {
  postsPerChannelPerMin: number;
  postsPerWorkspacePerMin: number;
  perMethodPerMin(method: string): number;
}

export function slackRates(l: FakeSlackRateLimitConfig): RateLimits {
  const perMin = (n: number) => (n * 60_000) / l.windowMs;
  return {
    postsPerChannelPerMin: l.postMessagePerChannel.perSecond * 60,
    postsPerWorkspacePerMin: perMin(l.postMessagePerWindow),
    perMethodPerMin: (m) => perMin(l.perMethod[m] ?? l.defaultPerWindow),
  };
}

export function pacerRates(l: PacerLimits): RateLimits {
  return {
    postsPerChannelPerMin: 60_000 / l.postIntervalMs,
    postsPerWorkspacePerMin: l.postPerMinute,
    perMethodPerMin: (m) => l.perMinute[m] ?? l.defaultPerMinute,
  };
}

export interface Ceiling {
  runsPerMinute: number;
  /** The limit that binds. */
  bindingLimit: string;
  formula: string;
}

const num = (v: number) => String(round(v, 2));

/**
 * Steady-state completed runs per minute per workspace: every limit divided by what one run spends of it,
 * the smallest wins. Runs spread evenly over `channels` channels.
 */
export function ceiling(callsPerRun: Record<string, number>, channels: number, rates: RateLimits): Ceiling {
  const bounds: Array<{ what: string; formula: string; value: number }> = [];
  const posts = callsPerRun['chat.postMessage'] ?? 0;
  if (posts > 0) {
    bounds.push({
      what: 'chat.postMessage per channel',
      formula: `${channels} ch x ${num(rates.postsPerChannelPerMin)} posts/min / ${num(posts)} posts/run`,
      value: (channels * rates.postsPerChannelPerMin) / posts,
    });
    bounds.push({ what: 'chat.postMessage per workspace', formula: `${num(rates.postsPerWorkspacePerMin)} posts/min / ${num(posts)}`, value: rates.postsPerWorkspacePerMin / posts });
  }
  for (const [method, perRun] of Object.entries(callsPerRun)) {
    if (method === 'chat.postMessage' || perRun <= 0 || isRateLimitExempt(method)) continue;
    const limit = rates.perMethodPerMin(method);
    bounds.push({ what: `${method} per workspace`, formula: `${num(limit)} ${method}/min / ${num(perRun)}`, value: limit / perRun });
  }
  if (bounds.length === 0) return { runsPerMinute: Number.POSITIVE_INFINITY, bindingLimit: 'none', formula: 'no rate-limited call' };
  const binding = bounds.reduce((a, b) => (b.value < a.value ? b : a));
  return {
    runsPerMinute: round(binding.value, 1),
    bindingLimit: binding.what,
    formula: `min(${bounds.map((b) => `${b.formula} = ${b.value.toFixed(1)}`).join('; ')}) = ${binding.value.toFixed(1)} runs/min`,
  };
}

/**
 * The least time Slack's limits allow for the calls a burst made, with every window and bucket empty at
 * the start: the n-th post in a channel waits for the bucket, the n-th call of a per-minute limit for
 * the window. Model turns and approvals are not counted: it is Slack's share only.
 */
export function burstFloorMs(postsPerChannel: number[], callsByMethod: Record<string, number>, l: FakeSlackRateLimitConfig): { ms: number; limit: string } {
  const candidates: Array<{ ms: number; limit: string }> = [{ ms: 0, limit: 'none' }];
  const { perSecond, burst } = l.postMessagePerChannel;
  const busiest = Math.max(0, ...postsPerChannel);
  candidates.push({ ms: (Math.max(0, busiest - burst) / perSecond) * 1000, limit: 'chat.postMessage per channel' });
  const windowed = (calls: number, limit: number) => (calls <= 0 || limit <= 0 ? 0 : Math.floor((calls - 1) / limit) * l.windowMs);
  candidates.push({ ms: windowed(callsByMethod['chat.postMessage'] ?? 0, l.postMessagePerWindow), limit: 'chat.postMessage per workspace' });
  for (const [m, n] of Object.entries(callsByMethod)) {
    if (m === 'chat.postMessage' || isRateLimitExempt(m)) continue;
    candidates.push({ ms: windowed(n, l.perMethod[m] ?? l.defaultPerWindow), limit: `${m} per workspace` });
  }
  const worst = candidates.reduce((a, b) => (b.ms > a.ms ? b : a));
  return { ms: round(worst.ms), limit: worst.limit };
}

export interface LimitsResult {
  label: string;
  runs: number;
  channels: number;
  /** From the first /agent run sent to the last card posted. */
  cardsVisibleMs: number;
  /** From the first /agent run sent until every run's answer is in its thread and its task message says completed. */
  allDoneMs: number;
  /** Calls Slack processed (not answered 429), by method, divided by the runs. */
  callsPerRun: Record<string, number>;
  /** The costliest single run, for the budgeted methods (calls attributed to runs by their message). */
  maxPerRun: Record<Budgeted, number>;
  unattributed: Record<string, number>;
  ratelimited: Record<string, number>;
  ratelimitedTotal: number;
  runsPerMinute: number;
  ceiling: Ceiling;
  /** The least time Slack's limits allow for this burst's calls (see burstFloorMs). */
  burstFloor: { ms: number; limit: string };
  /** The same formula at the app's own pacing, which stays a little under Slack's limits. */
  pacedCeiling: Ceiling;
  ratio: number;
  budgetMet: boolean;
  /** What a user would notice: a run not completed, a missing or doubled task message, card or answer. */
  problems: string[];
}

export interface LimitsDeps {
  world: World;
  driver: LimitsDriver;
  nextK(): number;
  /** Resolves when the app's Slack outbox has nothing left to deliver (bounded by the caller). */
  drained(): Promise<void>;
  /** Runs by status in the app's database. */
  runStatuses(): Promise<Record<string, number>>;
  slackLimits: FakeSlackRateLimitConfig;
  appLimits: PacerLimits;
}

/** Starts `s.runs` standard runs at once and follows them until every one is done as people see it. */
export async function measureLimitsScenario(s: LimitsScenario, deps: LimitsDeps): Promise<LimitsResult> {
  const { world, driver } = deps;
  const ks = Array.from({ length: s.runs }, () => deps.nextK());
  const channelOf = new Map(ks.map((k, i) => [k, s.channels[i % s.channels.length]!]));
  const mine = new Set(ks);
  const errors: string[] = [];
  world.slack.resetRateStats();
  const callsBefore = world.slack.calls.length;
  const prevCard = world.onCard;
  world.onCard = (card) => {
    if (!mine.has(card.k)) return;
    driver.click(card).then(
      (r) => {
        if (r.res.status !== 200) errors.push(`Approve answered ${r.res.status}`);
      },
      (err: unknown) => errors.push(`Approve failed: ${String(err)}`),
    );
  };
  // Slack's pacing bounds everything that follows: about one post per second per channel and 50
  // chat.update per minute; the waits allow twice the budget's worth of that, plus a minute.
  const perChannel = Math.ceil(s.runs / s.channels.length);
  const cardsTimeoutMs = 60_000 + perChannel * RUN_BUDGET['chat.postMessage'] * 2_000;
  const doneTimeoutMs = cardsTimeoutMs + s.runs * RUN_BUDGET['chat.update'] * 2_500;
  const failIfBroken = () => {
    if (errors.length > 0) throw new Error(`requests failed: ${[...new Set(errors)].slice(0, 5).join('; ')}`);
  };
  const t0 = performance.now();
  try {
    const slashes = await Promise.all(ks.map((k) => driver.slash(`run ${taskText('approve3', k)}`, channelOf.get(k)!)));
    const refused = slashes.filter((r) => r.res.status !== 200 || !/Starting run/.test(r.res.body));
    if (refused.length > 0) throw new Error(`${refused.length} of ${s.runs} /agent run were not started: ${refused[0]!.res.status} ${refused[0]!.res.body.slice(0, 200)}`);
    await world.waitFor(`${s.runs} approval cards (${s.label})`, () => errors.length > 0 || ks.every((k) => world.cards.has(k)), cardsTimeoutMs);
    failIfBroken();
    const isDone = (k: number) => world.done.has(k) && world.taskCompleted.has(k);
    await world.waitFor(`${s.runs} runs done (${s.label})`, () => errors.length > 0 || ks.every(isDone), doneTimeoutMs);
    failIfBroken();
  } finally {
    world.onCard = prevCard;
  }
  const cardsVisibleMs = Math.max(...ks.map((k) => world.cards.get(k)!.at)) - t0;
  const allDoneMs = Math.max(...ks.map((k) => Math.max(world.done.get(k)!, world.taskCompleted.get(k)!))) - t0;

  // Whatever the app still sends after the last run looked done (a card's final update...) is part of
  // what a run costs.
  await deps.drained();
  const stats = world.slack.rateStats();
  const calls = world.slack.calls.slice(callsBefore);
  const callsPerRun = Object.fromEntries(
    Object.entries(stats.accepted)
      .sort((a, b) => b[1] - a[1])
      .map(([m, n]) => [m, round(n / s.runs, 2)]),
  );
  const { maxPerRun, unattributed } = perRunCosts(world, calls, mine);
  const runsPerMinute = round((s.runs / allDoneMs) * 60_000, 1);
  const limit = ceiling(callsPerRun, s.channels.length, slackRates(deps.slackLimits));
  const postsPerChannel = s.channels.map((ch) => calls.filter((c) => c.method === 'chat.postMessage' && c.error !== 'ratelimited' && c.args['channel'] === ch).length);
  const budgetMet = BUDGETED.every((m) => (callsPerRun[m] ?? 0) <= RUN_BUDGET[m] && maxPerRun[m] <= RUN_BUDGET[m]);
  return {
    label: s.label,
    runs: s.runs,
    channels: s.channels.length,
    cardsVisibleMs: round(cardsVisibleMs),
    allDoneMs: round(allDoneMs),
    callsPerRun,
    maxPerRun,
    unattributed,
    ratelimited: stats.ratelimited,
    ratelimitedTotal: stats.ratelimitedTotal,
    runsPerMinute,
    ceiling: limit,
    burstFloor: burstFloorMs(postsPerChannel, stats.accepted, deps.slackLimits),
    pacedCeiling: ceiling(callsPerRun, s.channels.length, pacerRates(deps.appLimits)),
    ratio: round(runsPerMinute / limit.runsPerMinute, 2),
    budgetMet,
    problems: [...checkWhatPeopleSee(world, ks, channelOf), ...statusProblems(await deps.runStatuses(), s.runs)],
  };
}

/**
 * Charges each processed post and update to the run whose message it touched: a post by its task marker
 * or its thread's task message, an update by the message it changed (or that message's thread).
 */
function perRunCosts(world: World, calls: FakeSlackCall[], mine: Set<number>): { maxPerRun: Record<Budgeted, number>; unattributed: Record<string, number> } {
  const byRun = new Map<number, Record<Budgeted, number>>();
  const unattributed: Record<string, number> = {};
  const taskK = (channel: string, ts: string | undefined) => {
    if (!ts) return undefined;
    const m = world.slack.message(channel, ts);
    const parent = m?.thread_ts ? world.slack.message(channel, m.thread_ts) : m;
    return markedK(parent?.text);
  };
  for (const c of calls) {
    if (c.error === 'ratelimited' || !(BUDGETED as string[]).includes(c.method)) continue;
    const method = c.method as Budgeted;
    const channel = String(c.args['channel'] ?? '');
    const str = (key: string) => (typeof c.args[key] === 'string' ? (c.args[key] as string) : undefined);
    const k = method === 'chat.postMessage' ? (str('thread_ts') ? taskK(channel, str('thread_ts')) : markedK(str('text'))) : taskK(channel, str('ts'));
    if (k === undefined || !mine.has(k)) {
      unattributed[method] = (unattributed[method] ?? 0) + 1;
      continue;
    }
    const row = byRun.get(k) ?? { 'chat.postMessage': 0, 'chat.update': 0 };
    row[method] += 1;
    byRun.set(k, row);
  }
  const maxPerRun = { 'chat.postMessage': 0, 'chat.update': 0 };
  for (const row of byRun.values()) for (const m of BUDGETED) maxPerRun[m] = Math.max(maxPerRun[m], row[m]);
  return { maxPerRun, unattributed };
}

/** Reads the fake Slack's messages the way a person would: one task message per run, saying completed, with one card and one answer in its thread. */
function checkWhatPeopleSee(world: World, ks: number[], channelOf: Map<number, string>): string[] {
  const problems: string[] = [];
  for (const k of ks) {
    const channel = channelOf.get(k)!;
    const tasks = world.slack.channelMessages(channel).filter((m) => m.text.startsWith('Task ') && markedK(m.text) === k);
    if (tasks.length !== 1) {
      problems.push(`run k=${k}: ${tasks.length} task messages in ${channel}`);
      continue;
    }
    const task = tasks[0]!;
    if (!taskSaysCompleted(task.text)) problems.push(`run k=${k}: its task message says "${task.text.slice(0, 80)}"`);
    const replies = world.slack.threadReplies(channel, task.ts);
    const answers = replies.filter((m) => answerK(m.text) === k).length;
    const cards = replies.filter((m) => findApproveValue(m.history[0]?.blocks ?? m.blocks) !== undefined).length;
    if (answers !== 1) problems.push(`run k=${k}: ${answers} final answers in its thread`);
    if (cards !== 1) problems.push(`run k=${k}: ${cards} approval cards in its thread`);
    if (!world.mails.has(k)) problems.push(`run k=${k}: no mail at the SMTP server`);
  }
  return problems;
}

function statusProblems(byStatus: Record<string, number>, runs: number): string[] {
  return (byStatus['completed'] ?? 0) === runs && Object.keys(byStatus).length === 1 ? [] : [`runs by status in the app: ${JSON.stringify(byStatus)}, expected ${runs} completed`];
}

const seconds = (v: number) => `${(v / 1000).toFixed(1)} s`;

function budgetCell(r: LimitsResult): string {
  const over = BUDGETED.filter((m) => (r.callsPerRun[m] ?? 0) > RUN_BUDGET[m] || r.maxPerRun[m] > RUN_BUDGET[m]);
  return r.budgetMet ? 'PASS' : `MISS (${over.map((m) => `${m} up to ${r.maxPerRun[m]}`).join(', ')})`;
}

/** The section as printed: a table with one column per scenario, then the formulas. */
export function renderLimits(results: LimitsResult[], setup: string): string {
  const cells = (f: (r: LimitsResult) => string) => results.map(f);
  const others = (r: LimitsResult) => {
    const rest = Object.entries(r.callsPerRun).filter(([m]) => !(BUDGETED as string[]).includes(m));
    return rest.length === 0 ? 'none' : rest.map(([m, n]) => `${m} ${n}`).join(', ');
  };
  const rows: string[][] = [
    ['time until every card is visible', ...cells((r) => seconds(r.cardsVisibleMs))],
    ['time until every run is done (answer in thread, task message completed)', ...cells((r) => seconds(r.allDoneMs))],
    ["  least time Slack's limits allow for this burst's calls", ...cells((r) => `${seconds(r.burstFloor.ms)} (${r.burstFloor.limit})`)],
    ['chat.postMessage per run (mean / costliest run)', ...cells((r) => `${r.callsPerRun['chat.postMessage'] ?? 0} / ${r.maxPerRun['chat.postMessage']}`)],
    ['chat.update per run (mean / costliest run)', ...cells((r) => `${r.callsPerRun['chat.update'] ?? 0} / ${r.maxPerRun['chat.update']}`)],
    ['other Slack calls per run', ...cells(others)],
    ['429s received (by method)', ...cells((r) => (r.ratelimitedTotal === 0 ? '0' : `${r.ratelimitedTotal} (${Object.entries(r.ratelimited).map(([m, n]) => `${m} ${n}`).join(', ')})`))],
    ['completed runs per minute (workspace)', ...cells((r) => num(r.runsPerMinute))],
    ["ceiling from Slack's limits (runs/min; binding limit)", ...cells((r) => `${num(r.ceiling.runsPerMinute)} (${r.ceiling.bindingLimit})`)],
    ['ratio measured / ceiling', ...cells((r) => r.ratio.toFixed(2))],
    [`per-run budget (<= ${RUN_BUDGET['chat.postMessage']} chat.postMessage, <= ${RUN_BUDGET['chat.update']} chat.update)`, ...cells(budgetCell)],
    ['lost, doubled or unfinished (task message, card, answer, status)', ...cells((r) => (r.problems.length === 0 ? 'none' : `${r.problems.length} (see notes)`))],
  ];
  const formulas = results.flatMap((r) => [
    `ceiling, ${r.label}: ${r.ceiling.formula}`,
    `  at the app's own pacing (a little under Slack's): ${r.pacedCeiling.formula}`,
  ]);
  return [
    `Slack limits: ${setup}`,
    '',
    renderTable(['figure', ...results.map((r) => r.label)], rows),
    '',
    ...formulas,
    'The ceilings are steady-state rates; a burst smaller than one minute of budget starts with empty windows and can finish faster',
    "(ratio above 1): the least time Slack's limits allow for the burst's calls is shown for that case.",
  ].join('\n');
}
