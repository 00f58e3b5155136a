import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startApp, type AppOverrides, type RunningApp } from '../../src/main.js';
import type { Run } from '../../src/db/schema.js';
import { startFakeClaude, type FakeClaude } from './fakeClaude.js';
import { startFakeSlack, type FakeSlack, type FakeSlackMessage, type FakeSlackRateLimitsOption } from './fakeSlack.js';
import { startFakeSocketMode, type FakeSocketMode, type SocketAck } from './fakeSocketMode.js';
import { startSmtpServer, type SmtpTestServer } from './smtpServer.js';
import { appMentionEvent, blockAction, directMessageEvent, eventCallback, eventEnvelope, slashCommand, viewSubmission, type SignedResponse } from './slackRequests.js';
import { createTestDatabase, type TestDatabase } from './testDatabase.js';

export const SIGNING_SECRET = 'test-signing-secret';
export const REQUESTER = 'U_REQ';
export const APPROVER = 'U_APPROVER';
export const TASK_CHANNEL = 'C_TASKS';
export const APP_TOKEN = 'xapp-1-test';
/** OAuth harnesses (`oauth: true`): the app's credentials, as the fake Slack knows them too. */
export const OAUTH_CLIENT_ID = '1111111111.2222222222';
export const OAUTH_CLIENT_SECRET = 'test-client-secret';
export const OAUTH_STATE_SECRET = 'test-state-secret-long-enough';
export const TOKEN_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

/** A real app process (`node --import tsx src/main.ts`) on the harness's database and fakes. */
export interface AppInstance {
  child: ChildProcess;
  port: number;
  /** Where its Slack requests go (http://127.0.0.1:PORT). */
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** GET /healthz status, or undefined when nothing answers. */
  health(): Promise<number | undefined>;
}

/** Everything an end-to-end test needs: fakes of the outside world, a real SMTP server, a real DB file. */
export interface Harness {
  slack: FakeSlack;
  /** Socket Mode harnesses only: the fake WebSocket service commands and clicks travel over. */
  socket: FakeSocketMode | undefined;
  claude: FakeClaude;
  smtp: SmtpTestServer;
  dir: string;
  /** The SQLite file (only meaningful when `database.engine` is sqlite). */
  dbPath: string;
  /** This harness's own database, on the engine of the vitest project (sqlite or postgres). */
  database: TestDatabase;
  env: Record<string, string>;
  app: RunningApp;
  baseUrl: string;
  /** Starts a new app instance on the same database (a restart). */
  restart(): Promise<void>;
  /** Stops the in-process app. */
  stopApp(): Promise<void>;
  /** Runs the real app as a child process (`node --import tsx src/main.ts`) on the same database. */
  spawnChild(): Promise<ChildProcess>;
  /**
   * One more instance of the app as a child process, next to whatever runs already (several instances
   * on one Postgres database). Killed at close if still running.
   */
  spawnInstance(opts?: { env?: Record<string, string> }): Promise<AppInstance>;
  /** One more in-process instance on the same database, with the harness's settings; stopped at close. */
  addApp(): Promise<RunningApp>;
  /** `via`: the base URL of the instance that receives the request (default: the harness's app). */
  command(text: string, opts?: { userId?: string; channelId?: string; teamId?: string; via?: string }): Promise<SignedResponse>;
  cards(): Array<{ channel: string; ts: string; actionId: string; message: FakeSlackMessage }>;
  waitForCards(n: number, timeoutMs?: number): Promise<Array<{ channel: string; ts: string; actionId: string; message: FakeSlackMessage }>>;
  click(card: { channel: string; ts: string; actionId: string; message: FakeSlackMessage }, button: 'approve' | 'reject' | 'view_full' | 'approve_remember' | 'edit', userId?: string, teamId?: string, via?: string): Promise<SignedResponse>;
  /** Clicks the Undo button of an auto_notify notification. */
  clickUndo(notice: FakeSlackMessage, userId?: string): Promise<SignedResponse>;
  submitReject(actionId: string, note: string | null, userId?: string): Promise<SignedResponse>;
  run(runId: string): Promise<Run>;
  onlyRun(): Promise<Run>;
  waitForRun(predicate: (run: Run) => boolean, timeoutMs?: number): Promise<Run>;
  /**
   * The run's thread root. A run read before the outbox posted its task message has no `thread_ts` yet
   * (a run can fail or finish first on a busy machine): the root is then found by the task message.
   */
  threadRoot(run: Run): string | undefined;
  /** The replies in the run's task thread (none while it is not posted), whenever `run` was read. */
  threadReplies(run: Run): FakeSlackMessage[];
  /** The texts of `threadReplies(run)`. */
  threadTexts(run: Run): string[];
  /** The run's task message as Slack shows it now. */
  taskMessage(run: Run): FakeSlackMessage | undefined;
  /** Waits until the Slack outbox has delivered everything queued. */
  delivered(): Promise<void>;
  /** Sends a signed Events API request with this event (a redelivery when `retryNum` is set). */
  event(event: Record<string, unknown>, opts?: { eventId?: string; retryNum?: number }): Promise<SignedResponse>;
  /**
   * A person writes `@Agent <text>` in a channel (or a thread of it): the message is stored in the fake
   * Slack as theirs and the app_mention event is delivered. Returns what a test needs to redeliver it.
   */
  mention(text: string, opts?: PersonMessageOptions): Promise<SentMessage>;
  /** A person writes in the app's DM (top level, or in a thread of it): message.im is delivered. */
  dm(text: string, opts?: PersonMessageOptions): Promise<SentMessage>;
  /** Only the runs of one thread root. */
  runsInThread(channel: string, threadTs: string): Promise<Run[]>;
  close(): Promise<void>;
}

export interface PersonMessageOptions {
  userId?: string;
  channelId?: string;
  threadTs?: string;
  eventId?: string;
  userTeam?: string;
}

export interface SentMessage {
  ts: string;
  channel: string;
  eventId: string;
  event: Record<string, unknown>;
  response: SignedResponse;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  overrides?: AppOverrides;
  smtp?: Parameters<typeof startSmtpServer>[0];
  knowledge?: Record<string, string>;
  /** Runs the app in Socket Mode (SLACK_APP_TOKEN set): commands and clicks go over a fake WebSocket. */
  socketMode?: boolean;
  /** Slack's rate limits in the fake: on by default, as in production. */
  slackRateLimits?: FakeSlackRateLimitsOption;
  /** OAuth installs instead of SLACK_BOT_TOKEN (no workspace is installed until a test installs one). */
  oauth?: boolean | { tokenRotation?: { expiresInSec: number } };
}

function cardActionId(m: FakeSlackMessage): string | undefined {
  for (const b of (m.blocks ?? []) as Array<{ type?: string; elements?: Array<{ action_id?: string; value?: string }> }>) {
    if (b.type !== 'actions') continue;
    // An Approve button carries `<action id>|<hash of the call shown>`; the card's action id is the first part.
    for (const e of b.elements ?? []) if (e.action_id === 'approval_approve' || e.action_id === 'approval_view_full') return e.value?.split('|')[0];
  }
  return undefined;
}

export async function waitUntil<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function health(url: string): Promise<number | undefined> {
  try {
    return (await fetch(`${url}/healthz`)).status;
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const socket = opts.socketMode ? await startFakeSocketMode() : undefined;
  const oauth = opts.oauth ? { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET, ...(typeof opts.oauth === 'object' && opts.oauth.tokenRotation ? { tokenRotation: opts.oauth.tokenRotation } : {}) } : undefined;
  const slack = await startFakeSlack({ botToken: 'xoxb-test', rateLimits: opts.slackRateLimits ?? true, ...(socket ? { appToken: APP_TOKEN, socketModeUrl: () => socket.issueUrl() } : {}), ...(oauth ? { oauth } : {}) });
  slack.addUser({ id: REQUESTER, name: 'alice', real_name: 'Alice Doe', email: 'alice@acme.com' });
  slack.addUser({ id: APPROVER, name: 'bob', real_name: 'Bob Approver', email: 'bob@acme.com' });
  const claude = await startFakeClaude();
  const smtp = await startSmtpServer(opts.smtp);
  const dir = mkdtempSync(join(tmpdir(), 'agent-e2e-'));
  const knowledgeDir = join(dir, 'knowledge');
  mkdirSync(knowledgeDir);
  for (const [name, body] of Object.entries(opts.knowledge ?? { 'q2.md': '# Q2 report\nRevenue grew 12% in Q2.' })) {
    writeFileSync(join(knowledgeDir, name), body);
  }
  const dbPath = join(dir, 'agent.db');
  const database = await createTestDatabase(dir);
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: 'xoxb-test',
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.url,
    PORT: '0',
    ANTHROPIC_API_KEY: 'sk-test',
    ANTHROPIC_BASE_URL: claude.url,
    ...database.env,
    SMTP_URL: smtp.url,
    KNOWLEDGE_DIR: knowledgeDir,
    LOG_LEVEL: 'silent',
    // A killed instance's runs are taken over once its leases expire: short, so tests of crashes do not
    // wait half a minute (production default 30 s).
    RUN_LEASE_SECONDS: '2',
    ...(socket ? { SLACK_APP_TOKEN: APP_TOKEN } : {}),
    ...(oauth
      ? { SLACK_BOT_TOKEN: '', SLACK_CLIENT_ID: OAUTH_CLIENT_ID, SLACK_CLIENT_SECRET: OAUTH_CLIENT_SECRET, SLACK_STATE_SECRET: OAUTH_STATE_SECRET, SLACK_TOKEN_ENCRYPTION_KEY: TOKEN_ENCRYPTION_KEY }
      : {}),
    ...opts.env,
  };
  const boot = () =>
    startApp(loadConfig(env), {
      logger: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
      slackRetryConfig: { retries: 0 },
      anthropicMaxRetries: 0,
      botIdentity: { botId: 'B_BOT', botUserId: 'U_BOT' },
      disableJobs: true,
      socketReconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      ...opts.overrides,
      engine: { ...opts.overrides?.engine },
      outbox: { progressDelayMs: 30, settleMs: 30, ...opts.overrides?.outbox },
      delivery: { backoffBaseMs: 50, backoffMaxMs: 400, pollMs: 200, ...opts.overrides?.delivery },
    });
  // Socket Mode: the same payloads travel as envelopes over the WebSocket, and the ack is the answer.
  const viaSocket = async (ack: Promise<SocketAck>): Promise<SignedResponse> => {
    const { payload } = await ack;
    const json = payload && Object.keys(payload).length > 0 ? payload : undefined;
    return { status: 200, body: json ? JSON.stringify(json) : '', ...(json ? { json } : {}) };
  };
  let app = await boot();
  let stopped = false;
  let childPort: number | undefined;
  const instances: AppInstance[] = [];
  const extraApps: RunningApp[] = [];
  const spawnInstance = async (o: { env?: Record<string, string> } = {}): Promise<AppInstance> => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: { ...process.env, ...env, ...o.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    const instance: AppInstance = { child, port, url, exited, health: () => health(url) };
    instances.push(instance);
    await waitUntil(async () => ((await health(url)) === 200 ? true : undefined), 'the child app to become healthy', 60_000);
    return instance;
  };
  const h: Harness = {
    slack,
    socket,
    claude,
    smtp,
    dir,
    dbPath,
    database,
    env,
    get app() {
      return app;
    },
    get baseUrl() {
      return `http://127.0.0.1:${childPort ?? app.port}`;
    },
    async restart() {
      if (!stopped) await app.stop();
      app = await boot();
      stopped = false;
      childPort = undefined;
    },
    async spawnChild() {
      if (!stopped) await app.stop();
      stopped = true;
      const instance = await spawnInstance();
      childPort = instance.port;
      return instance.child;
    },
    spawnInstance,
    async addApp() {
      const extra = await boot();
      extraApps.push(extra);
      return extra;
    },
    async stopApp() {
      await app.stop();
      stopped = true;
    },
    command(text, o = {}) {
      const channel = o.channelId ?? TASK_CHANNEL;
      const userId = o.userId ?? REQUESTER;
      const cmd = { text, userId, channelId: channel, responseUrl: slack.responseUrl({ channel, userId }), ...(o.teamId ? { teamId: o.teamId } : {}) };
      return socket ? viaSocket(socket.slashCommand(cmd)) : slashCommand(o.via ?? h.baseUrl, SIGNING_SECRET, cmd);
    },
    cards() {
      const out: Array<{ channel: string; ts: string; actionId: string; message: FakeSlackMessage }> = [];
      const seen = new Set<string>();
      for (const call of slack.calls) {
        if (call.method !== 'chat.postMessage' || !call.ok) continue;
        const channel = String(call.args['channel']);
        for (const m of [...slack.channelMessages(channel), ...slack.channelMessages(channel).flatMap((p) => slack.threadReplies(channel, p.ts))]) {
          const key = `${channel}:${m.ts}`;
          if (seen.has(key)) continue;
          const firstBlocks = (m.history[0]?.blocks ?? m.blocks) as unknown[] | undefined;
          const id = cardActionId({ ...m, blocks: firstBlocks } as FakeSlackMessage);
          if (!id) continue;
          seen.add(key);
          out.push({ channel, ts: m.ts, actionId: id, message: m });
        }
      }
      return out.sort((a, b) => (a.ts < b.ts ? -1 : 1));
    },
    waitForCards(n, timeoutMs = 10_000) {
      return waitUntil(() => {
        const c = h.cards();
        return c.length >= n ? c : undefined;
      }, `${n} approval card(s)`, timeoutMs);
    },
    click(card, button, userId = APPROVER, teamId, via) {
      const actionId = { approve: 'approval_approve', reject: 'approval_reject', view_full: 'approval_view_full', approve_remember: 'approval_approve_remember', edit: 'approval_edit' }[button];
      // Slack sends the clicked button's own value as the message shows it now (an Approve names the call
      // on screen); a button no longer on the message is clicked from the card as first seen.
      const shown = ((slack.message(card.channel, card.ts) ?? card.message).blocks ?? []) as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>;
      const value = shown.flatMap((b) => b.elements ?? []).find((e) => e.action_id === actionId)?.value ?? card.actionId;
      const o = {
        actionId,
        value,
        userId,
        channelId: card.channel,
        messageTs: card.ts,
        ...(card.message.thread_ts ? { threadTs: card.message.thread_ts } : {}),
        responseUrl: slack.responseUrl({ channel: card.channel, userId, messageTs: card.ts }),
        message: slack.message(card.channel, card.ts) ?? card.message,
        ...(teamId ? { teamId } : {}),
      };
      return socket ? viaSocket(socket.blockAction(o)) : blockAction(via ?? h.baseUrl, SIGNING_SECRET, o);
    },
    clickUndo(notice, userId = REQUESTER) {
      const blocks = (notice.blocks ?? []) as Array<{ type?: string; elements?: Array<{ action_id?: string; value?: string }> }>;
      const value = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'notice_undo')?.value;
      if (!value) throw new Error('that message has no Undo button');
      const o = {
        actionId: 'notice_undo',
        value,
        userId,
        channelId: notice.channel,
        messageTs: notice.ts,
        ...(notice.thread_ts ? { threadTs: notice.thread_ts } : {}),
        responseUrl: slack.responseUrl({ channel: notice.channel, userId, messageTs: notice.ts }),
        message: notice,
      };
      return socket ? viaSocket(socket.blockAction(o)) : blockAction(h.baseUrl, SIGNING_SECRET, o);
    },
    submitReject(actionId, note, userId = APPROVER) {
      const o = {
        callbackId: 'approval_reject_note',
        privateMetadata: JSON.stringify({ actionId }),
        values: { reject_note: { note: { type: 'plain_text_input', value: note } } },
        userId,
      };
      return socket ? viaSocket(socket.viewSubmission(o)) : viewSubmission(h.baseUrl, SIGNING_SECRET, o);
    },
    async run(runId) {
      const r = await app.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
      if (!r) throw new Error(`no run ${runId}`);
      return r;
    },
    async onlyRun() {
      const rows = await app.db.selectFrom('runs').selectAll().execute();
      if (rows.length !== 1) throw new Error(`expected exactly one run, found ${rows.length}`);
      return rows[0]!;
    },
    waitForRun(predicate, timeoutMs = 10_000) {
      return waitUntil(async () => {
        const rows = await app.db.selectFrom('runs').selectAll().execute();
        return rows.find(predicate);
      }, 'a run in the expected state', timeoutMs);
    },
    threadRoot(run) {
      if (run.thread_ts) return run.thread_ts;
      const task = h.taskMessage(run);
      return task ? (task.thread_ts ?? task.ts) : undefined;
    },
    threadReplies(run) {
      const root = h.threadRoot(run);
      return root ? slack.threadReplies(run.channel_id, root) : [];
    },
    threadTexts(run) {
      return h.threadReplies(run).map((m) => m.text);
    },
    taskMessage(run) {
      // The task message's fallback text names the run. It is the thread's root for `/agent run`, and the
      // first reply under the message a run started from (a mention, a DM).
      // The bot user of the run's own workspace (another workspace's bot in OAuth mode has its own id).
      const bot = slack.workspaceBotUserId(run.team_id) ?? slack.botUserId;
      const isTask = (m: FakeSlackMessage) => m.user === bot && m.text.startsWith(`Task ${run.id} `);
      if (run.thread_ts) {
        const root = slack.message(run.channel_id, run.thread_ts);
        if (root && isTask(root)) return root;
        return slack.threadReplies(run.channel_id, run.thread_ts).find(isTask) ?? root;
      }
      // Read before the outbox posted it.
      return slack.channelMessages(run.channel_id).find(isTask);
    },
    event(event, o = {}) {
      // Over Socket Mode the same envelope travels as an events_api payload (redeliveries are not modelled there).
      return socket ? viaSocket(socket.send('events_api', eventEnvelope(event, o))) : eventCallback(h.baseUrl, SIGNING_SECRET, event, o);
    },
    async mention(text, o = {}) {
      const channel = o.channelId ?? TASK_CHANNEL;
      const user = o.userId ?? REQUESTER;
      const full = `<@${slack.botUserId}> ${text}`;
      const ts = slack.seedMessage({ channel, user, text: full, ...(o.threadTs ? { thread_ts: o.threadTs } : {}) });
      const event = appMentionEvent({ user, text: full, channel, ts, ...(o.threadTs ? { threadTs: o.threadTs } : {}), ...(o.userTeam ? { userTeam: o.userTeam } : {}) });
      const eventId = o.eventId ?? `Ev${ts.replace('.', '')}`;
      return { ts, channel, eventId, event, response: await h.event(event, { eventId }) };
    },
    async dm(text, o = {}) {
      const user = o.userId ?? REQUESTER;
      const channel = o.channelId ?? slack.dmChannel(user);
      const ts = slack.seedMessage({ channel, user, text, ...(o.threadTs ? { thread_ts: o.threadTs } : {}) });
      const event = directMessageEvent({ user, text, channel, ts, ...(o.threadTs ? { threadTs: o.threadTs } : {}) });
      const eventId = o.eventId ?? `Ev${ts.replace('.', '')}`;
      return { ts, channel, eventId, event, response: await h.event(event, { eventId }) };
    },
    async runsInThread(channel, threadTs) {
      return app.db.selectFrom('runs').selectAll().where('channel_id', '=', channel).where('thread_ts', '=', threadTs).orderBy('created_at').execute();
    },
    delivered() {
      return app.slackDrained();
    },
    async close() {
      for (const i of instances) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
      await Promise.all(instances.map((i) => i.exited));
      await Promise.all(extraApps.map((a) => a.stop()));
      if (!stopped) await app.stop();
      await Promise.all([slack.close(), claude.close(), smtp.close(), socket?.close()]);
      await database.drop();
    },
  };
  return h;
}
