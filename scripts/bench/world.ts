/**
 * The "outside world" the benchmarked app talks to, all on 127.0.0.1:
 *  - the test suite's loopback fake of Slack's Web API (zero added latency, like a fast Slack; Slack's
 *    published rate limits only when asked, for the "Slack limits" section),
 *  - the test suite's loopback fake of the Claude Messages API (scripted replies, `latencyMs` per call),
 *  - the test suite's real SMTP server (the `smtp-server` package).
 * They are test helpers (fakes, not the real services); the benchmark only adds hooks that timestamp what
 * arrives: approval cards posted, final answers posted, mails received.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { textReply, toolUseReply, startFakeClaude, type FakeClaude, type FakeClaudeRequest, type FakeReply } from '../../test/helpers/fakeClaude.js';
import { startFakeSlack, type FakeSlack, type FakeSlackCall, type FakeSlackMessage, type FakeSlackRateLimitsOption } from '../../test/helpers/fakeSlack.js';
import { startSmtpServer, type ReceivedMail, type SmtpTestServer } from '../../test/helpers/smtpServer.js';

export const BOT_TOKEN = 'xoxb-bench';
export const SIGNING_SECRET = 'bench-signing-secret';
export const TEAM = 'T_BENCH';
export const REQUESTER = 'U_REQ';
export const APPROVER = 'U_APPROVER';
/** Runs are spread over several channels, as a real workspace's would be. */
export const CHANNELS = Array.from({ length: 16 }, (_, i) => `CBENCH${String(i).padStart(2, '0')}`);

/**
 * Where benchmark run k goes when runs are spread over `workspaces` workspaces: consecutive runs go to
 * different workspaces, and each workspace's runs to different channels (one workspace: TEAM itself).
 */
export function placeRun(k: number, workspaces: number): { team: string; channel: string } {
  if (workspaces <= 1) return { team: TEAM, channel: CHANNELS[k % CHANNELS.length]! };
  return { team: `${TEAM}_${k % workspaces}`, channel: CHANNELS[Math.floor(k / workspaces) % CHANNELS.length]! };
}

export function benchTeams(workspaces: number): string[] {
  return workspaces <= 1 ? [TEAM] : Array.from({ length: workspaces }, (_, i) => `${TEAM}_${i}`);
}

/**
 * What the fake model does, chosen by a marker in the task text (`[bench <scenario> k=<n>]`), so the
 * fake stays stateless: the turn is the number of assistant messages already in the conversation.
 *  - email:    send_email (needs approval) -> final answer                      (2 model calls)
 *  - approve3: search_knowledge_base -> send_email (approval) -> final answer   (3 model calls)
 *  - turns5:   search_knowledge_base x4 -> final answer                          (5 model calls, no approval)
 */
export type Scenario = 'email' | 'approve3' | 'turns5';

export function taskText(scenario: Scenario, k: number): string {
  return `email Sarah the Q2 summary [bench ${scenario} k=${k}]`;
}

const MARKER = /\[bench (email|approve3|turns5) k=(\d+)\]/;
/** The task message's fallback text once its run has completed: `Task <run id> (completed): <task>`. */
const TASK_COMPLETED = /^Task \S+ \(completed\): /;

/** True when a task message's text says its run has completed. */
export function taskSaysCompleted(text: string): boolean {
  return TASK_COMPLETED.test(text);
}

/** The benchmark run whose final answer a text is, if it is one. */
export function answerK(text: string): number | undefined {
  const m = DONE.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The benchmark run a text names through its task marker, if any. */
export function markedK(text: string | undefined): number | undefined {
  const m = MARKER.exec(text ?? '');
  return m ? Number(m[2]) : undefined;
}
const DONE = /Bench done k=(\d+)/;

function firstUserText(body: { messages?: Array<{ content?: unknown }> }): string {
  const content = body.messages?.[0]?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((b: { text?: unknown }) => (typeof b?.text === 'string' ? b.text : '')).join('\n');
  return '';
}

export function scenarioOf(body: { messages?: Array<{ content?: unknown }> }): { scenario: Scenario; k: number } | undefined {
  const m = MARKER.exec(firstUserText(body));
  return m ? { scenario: m[1] as Scenario, k: Number(m[2]) } : undefined;
}

function email(k: number) {
  return {
    to: 'sarah@acme.com',
    subject: `Q2 summary k=${k}`,
    body: `Hi Sarah,\n\nRevenue grew 12% in Q2 (benchmark mail k=${k}).\n\nAlice`,
  };
}

function reply(body: { messages?: Array<{ role?: string; content?: unknown }> }): FakeReply {
  const which = scenarioOf(body);
  const turn = (body.messages ?? []).filter((m) => m.role === 'assistant').length;
  if (!which) return textReply('Nothing to do.');
  const { scenario, k } = which;
  const search = () =>
    toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2 revenue' } }], { thinking: 'Look up the Q2 numbers first.', text: 'Let me find the Q2 numbers.' });
  const send = () => toolUseReply([{ name: 'send_email', input: email(k) }], { thinking: '', text: 'I will email Sarah the summary.' });
  const done = () => textReply(`Emailed Sarah the Q2 summary. Bench done k=${k}.`);
  switch (scenario) {
    case 'email':
      return turn === 0 ? send() : done();
    case 'approve3':
      return turn === 0 ? search() : turn === 1 ? send() : done();
    case 'turns5':
      return turn < 4 ? search() : done();
  }
}

export interface CardSeen {
  k: number;
  actionId: string;
  channel: string;
  ts: string;
  threadTs: string | undefined;
  message: FakeSlackMessage;
  at: number;
}

export interface World {
  slack: FakeSlack;
  claude: FakeClaude;
  smtp: SmtpTestServer;
  /** What the app is given as SMTP_URL: a pass-through TCP relay to `smtp` that timestamps connections. */
  smtpUrl: string;
  /** performance.now() of the latest request any fake saw: used to wait until the app is quiet. */
  lastActivity(): number;
  cards: Map<number, CardSeen>;
  /** performance.now() at which the SMTP server finished receiving each benchmark mail, by k. */
  mails: Map<number, number>;
  /**
   * performance.now() at which the app opened the SMTP connection that carried each benchmark mail, by k:
   * the moment the app started dispatching. (smtp-server waits 100 ms before its greeting to catch early
   * talkers, so connection -> mail received is at least that long whatever the app does.)
   */
  smtpConnected: Map<number, number>;
  /** performance.now() at which each run's final answer reached the fake Slack, by k. */
  done: Map<number, number>;
  /** performance.now() at which each run's task message first said "completed" in the fake Slack, by k. */
  taskCompleted: Map<number, number>;
  /** The request bodies the app sent to the fake Claude, by k, for the runs asked to be recorded. */
  recordBodiesOf: Set<number>;
  bodies: Map<number, unknown[]>;
  onCard: ((card: CardSeen) => void) | undefined;
  onMail: ((k: number, at: number) => void) | undefined;
  onDone: ((k: number, at: number) => void) | undefined;
  /** Resolves when `check()` is true, re-checked whenever a fake sees something; rejects after timeoutMs. */
  waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void>;
  /** Re-runs every pending waitFor check now (for conditions that change without a request). */
  recheck(): void;
  /** Resolves once no fake has seen a request for `quietMs`. */
  waitQuiet(quietMs: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export function findApproveValue(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const b of blocks as Array<{ type?: string; elements?: Array<{ action_id?: string; value?: string }> }>) {
    if (b?.type !== 'actions') continue;
    for (const e of b.elements ?? []) if (e.action_id === 'approval_approve' && typeof e.value === 'string') return e.value;
  }
  return undefined;
}

export async function startWorld(opts: { modelLatencyMs: number; slackRateLimits?: FakeSlackRateLimitsOption }): Promise<World> {
  const slack = await startFakeSlack({ botToken: BOT_TOKEN, teamId: TEAM, latencyMs: 0, rateLimits: opts.slackRateLimits ?? false });
  slack.addUser({ id: REQUESTER, name: 'alice', real_name: 'Alice Doe', email: 'alice@acme.com' });
  slack.addUser({ id: APPROVER, name: 'bob', real_name: 'Bob Approver', email: 'bob@acme.com' });
  const claude = await startFakeClaude({ latencyMs: opts.modelLatencyMs });
  claude.respond((body) => reply(body));
  const smtp = await startSmtpServer();

  let last = performance.now();
  const waiters = new Set<() => void>();
  const poke = () => {
    last = performance.now();
    for (const w of [...waiters]) w();
  };

  const world: World = {
    slack,
    claude,
    smtp,
    lastActivity: () => last,
    smtpUrl: '',
    cards: new Map(),
    mails: new Map(),
    smtpConnected: new Map(),
    done: new Map(),
    taskCompleted: new Map(),
    recordBodiesOf: new Set(),
    bodies: new Map(),
    onCard: undefined,
    onMail: undefined,
    onDone: undefined,
    waitFor(what, check, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        if (check()) return resolve();
        const waiter = () => {
          if (!check()) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    recheck() {
      for (const w of [...waiters]) w();
    },
    waitQuiet(quietMs, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      return new Promise<void>((resolve, reject) => {
        const tick = () => {
          const now = performance.now();
          if (now - last >= quietMs) return resolve();
          if (now > deadline) return reject(new Error(`the app did not go quiet for ${quietMs} ms within ${timeoutMs} ms`));
          setTimeout(tick, Math.max(5, quietMs - (now - last)));
        };
        tick();
      });
    },
    async close() {
      waiters.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await Promise.all([slack.close(), claude.close(), smtp.close()]);
    },
  };

  // The SMTP relay: pipes bytes unchanged and reads the Subject header off the client's side of the
  // conversation to tell which benchmark mail a connection carried.
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const at = performance.now();
    const upstream = connect(smtp.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let seen = '';
    client.on('data', (chunk: Buffer) => {
      if (seen.length < 64_000) {
        seen += chunk.toString('latin1');
        const k = /^Subject: .*k=(\d+)/m.exec(seen)?.[1];
        if (k !== undefined && !world.smtpConnected.has(Number(k))) world.smtpConnected.set(Number(k), at);
      }
    });
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', () => resolve());
  });
  world.smtpUrl = `smtp://127.0.0.1:${(relay.address() as { port: number }).port}`;

  // Card and final-answer detection: the fake records each call after storing its message, so the
  // posted message can be looked up right here. Only the thread is scanned, not the whole store.
  const pushCall = slack.calls.push.bind(slack.calls);
  slack.calls.push = (...items: FakeSlackCall[]): number => {
    const n = pushCall(...items);
    const at = performance.now();
    for (const call of items) {
      if ((call.method === 'chat.postMessage' || call.method === 'chat.update') && call.ok) {
        // The task message is posted, then updated; whichever call first shows "completed" counts.
        const text = typeof call.args['text'] === 'string' ? call.args['text'] : '';
        const k = TASK_COMPLETED.test(text) ? markedK(text) : undefined;
        if (k !== undefined && !world.taskCompleted.has(k)) world.taskCompleted.set(k, at);
      }
      if (call.method !== 'chat.postMessage' || !call.ok) continue;
      const value = findApproveValue(call.args['blocks']);
      if (value) {
        const channel = String(call.args['channel']);
        const threadTs = typeof call.args['thread_ts'] === 'string' ? call.args['thread_ts'] : undefined;
        const candidates = threadTs ? slack.threadReplies(channel, threadTs) : slack.channelMessages(channel);
        let message: FakeSlackMessage | undefined;
        for (let i = candidates.length - 1; i >= 0 && !message; i--) {
          const m = candidates[i]!;
          if (findApproveValue(m.history[0]?.blocks ?? m.blocks) === value) message = m;
        }
        const k = Number(/k=(\d+)/.exec(JSON.stringify(call.args['blocks']))?.[1] ?? Number.NaN);
        if (message && Number.isFinite(k) && !world.cards.has(k)) {
          const card: CardSeen = { k, actionId: value, channel, ts: message.ts, threadTs: message.thread_ts, message, at };
          world.cards.set(k, card);
          world.onCard?.(card);
        }
      }
      const text = typeof call.args['text'] === 'string' ? call.args['text'] : '';
      const done = DONE.exec(text);
      if (done && call.args['thread_ts']) {
        const k = Number(done[1]);
        if (!world.done.has(k)) {
          world.done.set(k, at);
          world.onDone?.(k, at);
        }
      }
    }
    poke();
    return n;
  };

  // Receive time of each mail: the SMTP helper appends to `mails` when the DATA phase has ended.
  const pushMail = smtp.mails.push.bind(smtp.mails);
  smtp.mails.push = (...items: ReceivedMail[]): number => {
    const at = performance.now();
    const n = pushMail(...items);
    for (const mail of items) {
      const k = Number(/k=(\d+)/.exec(mail.headers.subject)?.[1] ?? Number.NaN);
      if (Number.isFinite(k) && !world.mails.has(k)) {
        world.mails.set(k, at);
        world.onMail?.(k, at);
      }
    }
    // The benchmark sends thousands of mails; keep only the timestamps.
    if (smtp.mails.length > 100) smtp.mails.splice(0, smtp.mails.length - 10);
    poke();
    return n;
  };

  const pushRequest = claude.requests.push.bind(claude.requests);
  claude.requests.push = (...items: FakeClaudeRequest[]): number => {
    const n = pushRequest(...items);
    for (const r of items) {
      const which = scenarioOf(r.body ?? {});
      if (which && world.recordBodiesOf.has(which.k)) {
        const list = world.bodies.get(which.k) ?? [];
        list.push(r.body);
        world.bodies.set(which.k, list);
      }
    }
    // Full request bodies are large; the benchmark keeps only the ones it asked for.
    if (claude.requests.length > 200) claude.requests.splice(0, claude.requests.length - 50);
    poke();
    return n;
  };

  return world;
}
