/**
 * Where the time of one run and one Approve click goes, event by event: `npx tsx scripts/bench/timeline.ts`.
 * Starts the real app in this process against the bench's loopback fakes (model latency 200 ms), runs
 * warm-up runs, then prints every statement of an /agent run request, the timeline of that 5-turn run
 * (ack, each model call, the Slack posts) with the number of SQL statements and better-sqlite3's time
 * between two events, and every statement of an Approve click from the request to its answer. Each run
 * gets its own channel, so Slack's per-channel pacing does not show up. A diagnostic for
 * docs/performance.md ("The hot path"), not a benchmark.
 */
import { blockAction, slashCommand } from '../../test/helpers/slackRequests.js';
import { onStatement, startTracedApp } from './traceApp.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startWorld, taskText, TEAM, type Scenario } from './world.js';

interface TimelineEvent {
  at: number;
  ms: number;
  what: string;
}

let events: TimelineEvent[] = [];
let recording = false;

// Every statement better-sqlite3 runs (commits included), with its own time.
onStatement((source, at, ms) => {
  if (recording) events.push({ at, ms, what: `sql ${source.replace(/\s+/g, ' ').slice(0, 100)}` });
});

// The app's outgoing calls (Claude, Slack) and the bench's own requests to the app all go through fetch.
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const name = url.includes('/v1/messages') ? 'model call' : url.replace(/^https?:\/\/[^/]+/, '');
  if (recording) events.push({ at: performance.now(), ms: 0, what: `${name} sent` });
  const res = await originalFetch(input, init);
  if (recording) events.push({ at: performance.now(), ms: 0, what: `${name} answered` });
  return res;
};

const world = await startWorld({ modelLatencyMs: 200 });
const { base, close } = await startTracedApp(world, 'timeline-');

function startRun(scenario: Scenario, k: number) {
  const channel = `CTL${k}`;
  return slashCommand(base, SIGNING_SECRET, { text: `run ${taskText(scenario, k)}`, userId: REQUESTER, channelId: channel, teamId: TEAM, responseUrl: world.slack.responseUrl({ channel, userId: REQUESTER }) });
}

/** Prints the events since `t0`; statements are folded into the next other event unless `statements`. */
function print(t0: number, statements: boolean): void {
  events.sort((a, b) => a.at - b.at);
  let n = 0;
  let sqlMs = 0;
  let last = t0;
  for (const e of events) {
    if (e.what.startsWith('sql ')) {
      n++;
      sqlMs += e.ms;
      if (statements) console.log(`${(e.at - t0).toFixed(1).padStart(8)} ${e.ms.toFixed(2).padStart(6)} ms  ${e.what}`);
      continue;
    }
    const since = `+${(e.at - last).toFixed(1)} ms, ${n} statements ${sqlMs.toFixed(1)} ms`;
    console.log(`${(e.at - t0).toFixed(1).padStart(8)}  ${since.padEnd(34)} ${e.what}`);
    n = 0;
    sqlMs = 0;
    last = e.at;
  }
}

const WARM = 3;
let k = 0;
for (let i = 0; i <= WARM; i++) {
  k++;
  events = [];
  recording = i === WARM;
  const t0 = performance.now();
  await startRun('turns5', k);
  if (recording) {
    console.log('/agent run, from the request to its answer (every statement):');
    for (const e of events) console.log(`${(e.at - t0).toFixed(1).padStart(8)} ${e.ms.toFixed(2).padStart(6)} ms  ${e.what}`);
    console.log('');
  }
  await world.waitFor('the final answer', () => world.done.has(k), 30_000);
  events.push({ at: world.done.get(k)!, ms: 0, what: 'final answer at the fake Slack' });
  await world.waitQuiet(100, 10_000);
  recording = false;
  if (i === WARM) {
    console.log(`5-turn run (knowledge-base search x4, then the answer), times from the /agent run request:`);
    print(t0, false);
  }
}
for (let i = 0; i <= WARM; i++) {
  k++;
  await startRun('email', k);
  await world.waitFor('the card', () => world.cards.has(k), 30_000);
  await world.waitQuiet(300, 10_000);
  const card = world.cards.get(k)!;
  events = [];
  recording = i === WARM;
  const t0 = performance.now();
  await blockAction(base, SIGNING_SECRET, { actionId: 'approval_approve', value: card.actionId, userId: APPROVER, userName: 'bob', teamId: TEAM, channelId: card.channel, messageTs: card.ts, responseUrl: world.slack.responseUrl({ channel: card.channel, userId: APPROVER, messageTs: card.ts }), message: card.message });
  recording = false;
  if (i === WARM) {
    console.log(`\nApprove click, from the request to its answer (every statement):`);
    print(t0, true);
  }
  await world.waitFor('the final answer', () => world.done.has(k), 30_000);
  await world.waitQuiet(100, 10_000);
}
await close();
await world.close();
