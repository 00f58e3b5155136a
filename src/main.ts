import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { WebClient, type RetryOptions, type WebClientOptions } from '@slack/web-api';
import type { Logger } from 'pino';
import { AdminCheck } from './agent/admins.js';
import { HomeViews } from './agent/home.js';
import { AppHome } from './agent/homeTab.js';
import { SlackChannelMembers } from './slack/channelMembers.js';
import { Approvals } from './agent/approvals.js';
import { ApprovalRules } from './agent/approvalPolicy.js';
import { ApprovalTimers } from './agent/approvalTimers.js';
import { RunControl } from './agent/control.js';
import { Dispatcher } from './agent/dispatcher.js';
import { RunEngine, type EngineSettings } from './agent/engine.js';
import { createAnthropicModelClient, type ModelClient } from './agent/modelClient.js';
import { systemClock, type Clock } from './clock.js';
import { DEFAULT_FOREGROUND, Foreground, type ForegroundOptions } from './foreground.js';
import { loadConfig, type Config } from './config.js';
import { openKnowledgeIndex } from './connectors/openKnowledgeIndex.js';
import { createSafeFetcher, type SafeFetcher } from './connectors/safeFetch.js';
import { createSmtpMailer } from './connectors/smtp.js';
import { databaseTarget, openDatabase, type Db } from './db/connection.js';
import { startCheckpointer } from './db/sqliteCheckpoint.js';
import { migrateToLatest } from './db/migrate.js';
import { getRun } from './db/repos/runs.js';
import { AppError, errorMessage, isAppError } from './errors.js';
import { randomIds, type IdGenerator } from './ids.js';
import { createLogger } from './logger.js';
import { createSlackApp, webClientOptions } from './slack/app.js';
import { Outbox, type OutboxSettings } from './agent/outbox.js';
import { AgentViews } from './agent/views.js';
import { OutboxDelivery, type DeliverySettings } from './slack/outbox/delivery.js';
import { SlackPacer, SLACK_LIMITS, type PacerLimits } from './slack/outbox/pacer.js';
import { OutboxRenderer } from './slack/outbox/render.js';
import { trusted } from './text/mrkdwn.js';
import type { ReconnectPolicy } from './slack/socketConnection.js';
import { SlackGroupDirectory, SlackUserDirectory } from './slack/users.js';
import { InstalledClients, SingleTokenClients, type SlackClients } from './slack/clients.js';
import { createOAuthInstall, type OAuthInstall } from './slack/oauth/index.js';
import { WorkspaceRemoval } from './agent/workspaceRemoval.js';
import { TrustService } from './agent/trust.js';
import { buildRegistry } from './tools/index.js';
import { RunTaskBoard } from './agent/taskBoard.js';
import { CapsService } from './agent/capsService.js';
import { runDigests } from './agent/digest.js';
import { TrustSuggestions } from './agent/trustSuggestions.js';
import { renderTrustSuggestions } from './slack/blocks/trustSuggestions.js';
import { scheduleDigest } from './jobs/digest.js';
import { scheduleRunsJob } from './jobs/schedules.js';
import { Scheduler } from './agent/scheduler.js';
import { createWhatsAppClient } from './connectors/whatsapp.js';
import { createHubSpotClient } from './connectors/hubspot.js';
import { McpTools } from './agent/mcpTools.js';
import { ThreadConversations } from './agent/threads.js';
import { SlackThreadReader } from './slack/threadReader.js';
import { InstanceRegistry } from './cluster/instances.js';
import { RunLeases } from './cluster/runLeases.js';
import { ClusterTimers } from './cluster/timers.js';
import type { AppMetrics } from './metrics/appMetrics.js';
import { instrumentModelClient } from './metrics/instrumentModel.js';
import { listenMetrics } from './metrics/server.js';

/** Everything tests and benchmarks may replace; production uses the defaults. */
export interface AppOverrides {
  clock?: Clock;
  ids?: IdGenerator;
  logger?: Logger;
  model?: ModelClient;
  fetcher?: SafeFetcher;
  slackRetryConfig?: RetryOptions;
  anthropicMaxRetries?: number;
  anthropicMaxRetryAfterMs?: number;
  botIdentity?: { botId: string; botUserId: string };
  engine?: Partial<EngineSettings>;
  /** Tests drive jobs directly instead of waiting for the clock. */
  disableJobs?: boolean;
  /** Slack outbox timing (tests shorten the progress delay and backoff). */
  outbox?: Partial<OutboxSettings>;
  delivery?: Partial<DeliverySettings>;
  slackLimits?: PacerLimits;
  /** Socket Mode reconnect backoff (tests shorten it). */
  socketReconnect?: Partial<ReconnectPolicy>;
  /** How long a shutdown lets steps in flight finish before handing their runs over. */
  drainMs?: number;
  /** false: no cache_control breakpoints (the bench measures what caching saves). */
  promptCaching?: boolean;
  /** How long background work may be held back by requests being answered (src/foreground.ts). */
  foreground?: Partial<ForegroundOptions>;
}

export interface RunningApp {
  port: number | undefined;
  /** The port serving GET /metrics (METRICS_PORT), when metrics are on. */
  metricsPort: number | undefined;
  /** Posts due digests now (what the hourly job does). */
  runDigests(): Promise<string[]>;
  /** Starts due scheduled runs now (what the per-minute job does). */
  tickSchedules(now?: Date): Promise<string[]>;
  /** Fires due approval reminders and expiries now (what the approval-timers task does every second). */
  tickApprovalTimers(now?: Date): Promise<{ reminded: string[]; expired: string[] }>;
  db: Db;
  engine: RunEngine;
  logger: Logger;
  /** Resolves when the Slack outbox has nothing left to deliver. */
  slackDrained(): Promise<void>;
  /** Resolves when no mention, DM or reply is being acted on. */
  eventsSettled(): Promise<void>;
  /** This instance's id among those sharing the database (lease owner, outbox claims). */
  instanceId: string;
  /** Requests being answered and background work waiting behind them (tests, benchmarks). */
  foreground: Foreground;
  /**
   * Drains and stops: /healthz answers 503, steps in flight finish (up to `drainMs`), every run lease is
   * handed over, the outbox stops (queued messages stay for the next instance), the database is closed.
   */
  stop(): Promise<void>;
}

export const DEFAULT_ENGINE_SETTINGS = {
  maxTokens: 4096,
  maxTokensRetry: 8192,
} as const;

/** Progress-only task-message updates wait this long, so several steps become one chat.update. */
export const DEFAULT_OUTBOX_SETTINGS: OutboxSettings = { progressDelayMs: 2000, settleMs: 1000 };

/** A shutdown gives steps in flight this long (a model call may take longer: it is then redone elsewhere). */
export const DEFAULT_DRAIN_MS = 10_000;

/** The composition root: config -> db -> services -> Slack app -> start -> resume interrupted runs. */
export async function startApp(config: Config, overrides: AppOverrides = {}): Promise<RunningApp> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? randomIds;
  let ready = false;

  const opened = openDatabase(databaseTarget(config), {
    onIdleError: (err) => logger.warn({ err: errorMessage(err) }, 'database connection lost while idle; it will be replaced'),
  });
  const { db } = opened;
  await migrateToLatest(db);
  // SQLite's checkpoints (copying the log into the file, with an fsync) run in a worker thread instead
  // of inside a commit on the event loop (see src/db/sqliteCheckpoint.ts).
  const checkpointer =
    opened.engine === 'sqlite' && config.databasePath !== ':memory:'
      ? startCheckpointer(opened.sqlite, config.databasePath, {
          onFailure: (message) => logger.warn({ err: message }, 'SQLite checkpoint worker stopped; the connection checkpoints by itself again'),
        })
      : undefined;
  // Requests are answered before run steps and Slack deliveries take their turn on the event loop.
  const foreground = new Foreground({ ...DEFAULT_FOREGROUND, ...overrides.foreground });
  // Prometheus metrics, only when METRICS_PORT is set: the services below report to it. Loaded on demand,
  // so an app without metrics does not pay prom-client's start-up time and memory.
  const metrics: AppMetrics | undefined = config.metricsPort !== undefined ? new (await import('./metrics/appMetrics.js')).AppMetrics(db) : undefined;

  // Several instances may share a Postgres database; SQLite is one instance by design, so whatever a
  // previous process left (leases, Slack messages mid-send) is taken over at once instead of after the
  // lease has run out.
  const leaseMs = config.runLeaseSeconds * 1000;
  const exclusive = opened.engine === 'sqlite';
  const instance = new InstanceRegistry(db, leaseMs);
  await instance.register({ exclusive });
  const leases = new RunLeases(db, instance.id, leaseMs);
  if (exclusive) await leases.voidAll();

  const knowledge = await openKnowledgeIndex(opened);
  const indexed = await knowledge.reindex(config.knowledgeDir);
  logger.info({ files: indexed.files, dir: config.knowledgeDir }, 'knowledge base indexed');

  const slackRetryConfig: RetryOptions = overrides.slackRetryConfig ?? { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5000 };
  const slackOptions = webClientOptions(config.slack.apiUrl, slackRetryConfig);
  // OAuth mode: each workspace's token comes from its stored installation; single-token mode: one token.
  const oauth: OAuthInstall | undefined = config.slack.oauth
    ? createOAuthInstall({
        config: config.slack.oauth,
        apiUrl: config.slack.apiUrl,
        clientOptions: slackOptions,
        db,
        clock,
        logger,
        // A reinstall: cards and task messages the uninstall could not update are brought up to date.
        onInstalled: async (teamId) => {
          clients.forget(teamId);
          outboxClients.forget(teamId);
          await workspaces.reinstalled(teamId);
        },
      })
    : undefined;
  const clientsWith = (options: WebClientOptions): SlackClients =>
    oauth ? new InstalledClients(oauth.tokens, options, clock) : new SingleTokenClients(requireBotToken(config), options);
  const clients = clientsWith(slackOptions);
  // Learn the bot's identity ourselves (through SLACK_API_URL): a bad token then stops startup with a
  // clear message instead of Bolt failing later in the background. OAuth mode learns it per workspace.
  const botIdentity = oauth ? undefined : (overrides.botIdentity ?? (await fetchBotIdentity(new WebClient(requireBotToken(config), slackOptions))));
  const users = new SlackUserDirectory(clients, clock);
  // Outbox timing is wall-clock time (pacing, backoff), whatever business clock the app is given.
  const outbox = new Outbox(systemClock, { ...DEFAULT_OUTBOX_SETTINGS, ...overrides.outbox });
  const groups = new SlackGroupDirectory(clients, clock);
  const mailer = config.smtpUrl ? createSmtpMailer(config.smtpUrl) : undefined;

  // The checklist and status live on the task message: a change queues an update of it.
  const board = new RunTaskBoard(db, clock, async (runId) => {
    const run = await getRun(db, runId);
    if (run) await outbox.updateTaskMessage(db, run, 'soon');
    outbox.wake();
  });
  let engineRef: RunEngine | undefined;
  const scheduler = new Scheduler(db, clock, logger, () => {
    if (!engineRef) throw new Error('engine not ready');
    return engineRef;
  });
  const registry = buildRegistry({
    knowledge,
    schedules: scheduler,
    board,
    emailSenderMode: config.emailSenderMode,
    whatsapp: config.whatsapp ? createWhatsAppClient(config.whatsapp) : undefined,
    hubspot: config.hubspot ? createHubSpotClient(config.hubspot) : undefined,
    fetcher: overrides.fetcher ?? createSafeFetcher(),
    mailer,
    emailFrom: config.emailFrom,
    lookupSender: async (teamId, userId) => {
      const u = await users.lookup(teamId, userId);
      return u ? { ...(u.name ? { name: u.name } : {}), ...(u.email ? { email: u.email } : {}) } : undefined;
    },
    thread: {
      postToRunThread: async (runId, text) => {
        const run = await getRun(db, runId);
        if (!run) throw new AppError('run_not_found', `No run ${runId}`);
        // The tool made the model's text safe (src/text/modelText.ts) before handing it over.
        await outbox.line(db, run, trusted(text));
        outbox.wake();
      },
    },
  });

  const model =
    overrides.model ??
    createAnthropicModelClient({
      apiKey: config.anthropic.apiKey,
      baseUrl: config.anthropic.baseUrl,
      maxRetries: overrides.anthropicMaxRetries ?? 2,
      ...(overrides.anthropicMaxRetryAfterMs !== undefined ? { maxRetryAfterMs: overrides.anthropicMaxRetryAfterMs } : {}),
      ...(overrides.promptCaching === false ? { promptCaching: false } : {}),
    });
  const queue = { warnAt: config.queue.warnAt, stopAt: config.queue.stopAt };
  const admins = new AdminCheck(config.adminUserIds, users);
  const caps = new CapsService(db, clock, admins, config.caps);
  const trust = new TrustService({ db, clock, admins, registry, groups, approvalsChannel: config.approvalsChannel });
  const suggestions = new TrustSuggestions({ db, clock, trust, admins });
  // MCP servers (MCP_CONFIG): their tools join the registry before any run resumes; a server that is
  // down is reported, never fatal.
  const mcp = new McpTools({ db, clock, logger, registry, outbox, config: config.mcp, requireAdmin: (teamId, userId, what) => trust.requireAdmin(teamId, userId, what) });
  await mcp.start();
  const dispatcher = new Dispatcher({ db, registry, clock, logger, queue, metrics });
  const engine = new RunEngine({
    db,
    clock,
    ids,
    logger,
    model: metrics ? instrumentModelClient(model, metrics) : model,
    outbox,
    registry,
    dispatcher,
    cardRoute: (teamId) => trust.routeFor(teamId),
    caps,
    leases,
    foreground,
    settings: { ...DEFAULT_ENGINE_SETTINGS, model: config.anthropic.model, queue, maxConcurrentRuns: config.maxConcurrentRuns, ...overrides.engine },
  });
  engineRef = engine;
  const approvals = new Approvals({ db, clock, registry, engine, trust, admins, dispatcher, outbox, metrics });
  const approvalTimers = new ApprovalTimers({ db, clock, registry, outbox, groups, logger });
  const approvalRules = new ApprovalRules({ db, clock, registry, requireAdmin: (teamId, userId, what) => trust.requireAdmin(teamId, userId, what) });
  const control = new RunControl({ db, clock, engine, registry, admins, queue, caps, outbox });
  const conversations = new ThreadConversations({ db, clock, engine, control, outbox, logger, limits: config.threadContext });

  // Delivery of the outbox: its own Web API client without retries (the outbox retries, paced, and
  // looks a post up before repeating it, which the client's blind retry cannot).
  const outboxClients = clientsWith(webClientOptions(config.slack.apiUrl, { retries: 0 }));
  // The App Home tab: what waits for each recent viewer, built when their view is published.
  const homeViews = new HomeViews({ db, registry, trust, admins, queue, suggestions, members: new SlackChannelMembers(clients, clock, logger) });
  const home = new AppHome({ db, clock, outbox, approvals, maySee: (teamId, userId, actionId) => homeViews.maySee(teamId, userId, actionId) });
  const views = new AgentViews({ db, registry, queue, queuePosition: (teamId, runId) => engine.queuePosition(teamId, runId) });
  const delivery = new OutboxDelivery({
    db,
    clock: systemClock,
    clients: outboxClients,
    pacer: new SlackPacer(() => Date.now(), overrides.slackLimits ?? SLACK_LIMITS, () => instance.liveCount()),
    renderer: new OutboxRenderer(views, outboxClients, homeViews, () => clock.now()),
    logger,
    outbox,
    instanceId: instance.id,
    foreground,
    settings: overrides.delivery ?? {},
    metrics,
    onUndeliverable: async (row, payload, failure) => {
      if (payload.kind === 'task') {
        await engine.taskMessageUndeliverable(payload.runId, failure.message);
        if (payload.responseUrl) await tellRequester(payload.responseUrl, `:x: I could not post in this channel (${failure.message}), so run \`${payload.runId}\` did not start. Invite me with \`/invite @Agent\` and try again.`, logger);
      } else if (payload.kind === 'card') {
        await engine.cardUndeliverable(payload.actionId, failure.message);
      }
    },
  });
  outbox.onWake(() => delivery.wake());

  const workspaces = new WorkspaceRemoval({
    db,
    clock,
    logger,
    outbox,
    installations: {
      installedAt: async (teamId) => oauth?.store.installedAt(teamId),
      remove: async (teamId, before) => (oauth ? oauth.store.remove(teamId, before) : false),
      removeUserTokens: async (teamId, userIds) => (oauth ? oauth.store.removeUserTokens(teamId, userIds) : false),
      forget: (teamId) => {
        clients.forget(teamId);
        outboxClients.forget(teamId);
      },
    },
  });

  const app = createSlackApp(
    {
      botToken: config.slack.botToken,
      ...(oauth ? { oauth } : {}),
      signingSecret: config.slack.signingSecret,
      appToken: config.slack.appToken,
      apiUrl: config.slack.apiUrl,
      port: config.slack.port,
      clock,
      ...(overrides.socketReconnect ? { reconnect: overrides.socketReconnect } : {}),
      logger,
      retryConfig: slackRetryConfig,
      isReady: () => ready,
      foreground,
      ...(botIdentity ? { botIdentity } : {}),
    },
    {
      engine,
      approvals,
      control,
      trust,
      suggestions,
      approvalRules,
      caps,
      scheduler,
      mcp,
      workspaces,
      logger,
      conversations,
      threadReader: new SlackThreadReader(() => Date.now()),
      home,
      writes: {
        replaceMessage: async (teamId, channel, ts, text, blocks) => {
          await outbox.replaceMessage(db, teamId, channel, ts, text, blocks);
          outbox.wake();
        },
        dm: async (teamId, userId, text) => {
          await outbox.toChannel(db, teamId, userId, text);
          outbox.wake();
        },
      },
    },
  );

  const interrupted = await delivery.reclaimInterrupted();
  const recovered = await engine.recover();
  delivery.start();
  // The heartbeat keeps this instance's leases alive; the sweep takes over what a gone instance left
  // (its runs once their leases expire, its Slack messages mid-send) and lets queued runs look for a
  // slot freed on another instance.
  const timers = new ClusterTimers(
    [
      {
        name: 'heartbeat',
        everyMs: Math.max(250, Math.floor(leaseMs / 3)),
        run: async () => {
          await instance.heartbeat();
          await leases.renewAll();
        },
      },
      {
        name: 'sweep',
        everyMs: Math.max(250, Math.min(1000, Math.floor(leaseMs / 3))),
        run: async () => {
          if ((await delivery.reclaimInterrupted()) > 0) delivery.wake();
          await engine.sweep();
        },
      },
      { name: 'prune', everyMs: 3600_000, run: () => instance.prune() },
      // Reminders, escalations and expiry of waiting approval cards (due times stored with each card).
      { name: 'approval-timers', everyMs: Math.max(250, Math.min(1000, Math.floor(leaseMs / 3))), run: () => approvalTimers.tick() },
    ],
    logger,
  );
  timers.start();
  // Socket Mode: resolves after the first connection attempt; a failed one is retried in the background.
  const port = await app.start();
  const metricsServer = metrics && config.metricsPort !== undefined ? await listenMetrics(config.metricsPort, metrics, logger) : undefined;

  const digestDeps = {
    db,
    clock,
    logger,
    outbox,
    registry,
    queue,
    cardRoute: (teamId: string) => trust.routeFor(teamId),
    suggestions: { service: suggestions, render: renderTrustSuggestions, adminUserIds: config.adminUserIds },
    permalink: async (teamId: string, channel: string, ts: string) =>
      (await clients
        .forTeam(teamId)
        .then((c) => c.chat.getPermalink({ channel, message_ts: ts }))
        .catch(() => undefined))?.permalink,
  };
  const digestJob = overrides.disableJobs ? undefined : scheduleDigest(() => runDigests(digestDeps), logger);
  const schedulesJob = overrides.disableJobs ? undefined : scheduleRunsJob(() => scheduler.tick(), logger);

  ready = true;
  logger.info({ port, mode: app.socket ? 'socket' : 'http', install: oauth ? 'oauth' : 'single_token', ...(app.socket ? { socket: app.socket.state } : {}), instance: instance.id, resumed: recovered.resumed.length, slackMessagesInterrupted: interrupted }, 'agent app ready');

  let stopping: Promise<void> | undefined;
  const drainMs = overrides.drainMs ?? DEFAULT_DRAIN_MS;
  return {
    port,
    metricsPort: metricsServer?.port,
    db,
    engine,
    logger,
    runDigests: () => runDigests(digestDeps),
    tickSchedules: (now?: Date) => scheduler.tick(now),
    tickApprovalTimers: (now?: Date) => approvalTimers.tick(now),
    slackDrained: () => delivery.drained(),
    eventsSettled: () => conversations.settled(),
    instanceId: instance.id,
    foreground,
    stop() {
      stopping ??= (async () => {
        // The load balancer stops sending requests here; those already on their way are still answered
        // (and persisted: the runs they start or resume are handed over with the rest).
        ready = false;
        digestJob?.stop();
        schedulesJob?.stop();
        await instance.markDraining().catch(() => undefined);
        const started = Date.now();
        foreground.releaseAll();
        await engine.stop(drainMs);
        // Heartbeats go on during the drain (a long step keeps its lease); after it, a lease still held
        // (a dispatch being recorded) expires on its own if this process exits first.
        timers.stop();
        await app.stop().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'error while stopping Slack app'));
        await conversations.settled();
        // Queued Slack messages stay in the database for the other instances (or the next start).
        await delivery.stop();
        await instance.retire().catch(() => undefined);
        logger.info({ drainedMs: Date.now() - started }, 'drained: runs handed over');
        await mcp.close();
        mailer?.close();
        if (metricsServer) {
          metricsServer.server.closeAllConnections();
          await new Promise<void>((resolve) => metricsServer.server.close(() => resolve()));
        }
        await checkpointer?.stop();
        await db.destroy();
      })();
      return stopping;
    },
  };
}

/** A private answer through a slash command's response_url (not a Web API call: not rate-limited alike). */
async function tellRequester(responseUrl: string, text: string, logger: Logger): Promise<void> {
  try {
    const res = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_type: 'ephemeral', text }) });
    if (!res.ok) logger.warn({ status: res.status }, 'could not tell the requester through the response_url');
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'could not tell the requester through the response_url');
  }
}

function requireBotToken(config: Config): string {
  if (!config.slack.botToken) throw new AppError('config_invalid', 'SLACK_BOT_TOKEN is required without OAuth installs');
  return config.slack.botToken;
}

async function fetchBotIdentity(client: WebClient): Promise<{ botId: string; botUserId: string }> {
  try {
    const res = await client.auth.test();
    if (!res.bot_id || !res.user_id) throw new Error('the token is not a bot token');
    return { botId: res.bot_id, botUserId: res.user_id };
  } catch (err) {
    throw new AppError('config_invalid', `Cannot start: Slack did not accept SLACK_BOT_TOKEN (${errorMessage(err)}). Check the token and SLACK_API_URL.`);
  }
}

async function main(): Promise<void> {
  // Operators keep settings in .env (see .env.sample); real environment variables win over it.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (isAppError(err, 'config_invalid')) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const running = await startApp(config);
  // First signal: drain (see RunningApp.stop). A second one: exit at once (leases then expire by themselves).
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      running.logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    draining = true;
    running.logger.info({ signal }, 'draining before exit');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err: errorMessage(err) }, 'error while draining');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`Failed to start: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
