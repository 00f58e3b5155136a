import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { WebClient, type RetryOptions } from '@slack/web-api';
import type { Logger } from 'pino';
import { AdminCheck } from './agent/admins.js';
import { Approvals } from './agent/approvals.js';
import { RunControl } from './agent/control.js';
import { Dispatcher } from './agent/dispatcher.js';
import { RunEngine, type EngineSettings } from './agent/engine.js';
import { createAnthropicModelClient, type ModelClient } from './agent/modelClient.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, type Config } from './config.js';
import { openKnowledgeIndex } from './connectors/openKnowledgeIndex.js';
import { createSafeFetcher, type SafeFetcher } from './connectors/safeFetch.js';
import { createSmtpMailer } from './connectors/smtp.js';
import { databaseTarget, openDatabase, type Db } from './db/connection.js';
import { migrateToLatest } from './db/migrate.js';
import { getRun } from './db/repos/runs.js';
import { AppError, errorMessage, isAppError } from './errors.js';
import { randomIds, type IdGenerator } from './ids.js';
import { createLogger } from './logger.js';
import { createSlackApp, webClientOptions } from './slack/app.js';
import { SlackSurface } from './slack/surface.js';
import { SlackGroupDirectory, SlackUserDirectory } from './slack/users.js';
import { TrustService } from './agent/trust.js';
import { buildRegistry } from './tools/index.js';
import { RunTaskBoard } from './agent/taskBoard.js';
import { CapsService } from './agent/capsService.js';
import { runDigests } from './agent/digest.js';
import { scheduleDigest } from './jobs/digest.js';
import { scheduleRunsJob } from './jobs/schedules.js';
import { Scheduler } from './agent/scheduler.js';
import { createWhatsAppClient } from './connectors/whatsapp.js';
import { createHubSpotClient } from './connectors/hubspot.js';

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
}

export interface RunningApp {
  port: number | undefined;
  /** Posts due digests now (what the hourly job does). */
  runDigests(): Promise<string[]>;
  /** Starts due scheduled runs now (what the per-minute job does). */
  tickSchedules(now?: Date): Promise<string[]>;
  db: Db;
  engine: RunEngine;
  logger: Logger;
  stop(): Promise<void>;
}

export const DEFAULT_ENGINE_SETTINGS = {
  maxTokens: 4096,
  maxTokensRetry: 8192,
  cardRetryDelayMs: 30_000,
} as const;

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

  const knowledge = await openKnowledgeIndex(opened);
  const indexed = await knowledge.reindex(config.knowledgeDir);
  logger.info({ files: indexed.files, dir: config.knowledgeDir }, 'knowledge base indexed');

  const slackRetryConfig: RetryOptions = overrides.slackRetryConfig ?? { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5000 };
  const client = new WebClient(config.slack.botToken, webClientOptions(config.slack.apiUrl, slackRetryConfig));
  // Learn the bot's identity ourselves (through SLACK_API_URL): a bad token then stops startup with a
  // clear message instead of Bolt failing later in the background.
  const botIdentity = overrides.botIdentity ?? (await fetchBotIdentity(client));
  const users = new SlackUserDirectory(client, clock);
  const surface = new SlackSurface({ client, logger });
  const groups = new SlackGroupDirectory(client, clock);
  const mailer = config.smtpUrl ? createSmtpMailer(config.smtpUrl) : undefined;

  // The task board re-renders the task message; it needs the run row, so it reads it fresh each time.
  const board = new RunTaskBoard(db, clock, async (runId) => {
    const run = await getRun(db, runId);
    if (run?.thread_ts) await surface.updateTaskMessage(run);
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
        await surface.postInThread(run, text);
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
    });
  const queue = { warnAt: config.queue.warnAt, stopAt: config.queue.stopAt };
  const admins = new AdminCheck(config.adminUserIds, users);
  const caps = new CapsService(db, clock, admins, config.caps);
  const trust = new TrustService({ db, clock, admins, registry, groups, approvalsChannel: config.approvalsChannel });
  const dispatcher = new Dispatcher({ db, registry, clock, logger, queue });
  const engine = new RunEngine({
    db,
    clock,
    ids,
    logger,
    model,
    surface,
    registry,
    dispatcher,
    cardRoute: (teamId) => trust.routeFor(teamId),
    caps,
    settings: { ...DEFAULT_ENGINE_SETTINGS, model: config.anthropic.model, queue, maxConcurrentRuns: config.maxConcurrentRuns, ...overrides.engine },
  });
  engineRef = engine;
  const approvals = new Approvals({ db, clock, registry, engine, trust, admins, dispatcher, surface });
  const control = new RunControl({ db, clock, engine, registry, admins, queue, caps });

  const app = createSlackApp(
    {
      botToken: config.slack.botToken,
      signingSecret: config.slack.signingSecret,
      appToken: config.slack.appToken,
      apiUrl: config.slack.apiUrl,
      port: config.slack.port,
      logger,
      retryConfig: slackRetryConfig,
      isReady: () => ready,
      botIdentity,
    },
    { engine, approvals, control, trust, caps, scheduler, logger },
  );

  // Recover before accepting requests: a click must never race the marking of interrupted dispatches.
  const recovered = await engine.recover();
  const started = (config.slack.appToken ? await app.start() : await app.start(config.slack.port)) as unknown;
  const address = (started as Server | undefined)?.address?.();
  const port = address && typeof address === 'object' ? address.port : undefined;

  const digestDeps = { db, clock, logger, surface, registry, queue, cardRoute: (teamId: string) => trust.routeFor(teamId) };
  const digestJob = overrides.disableJobs ? undefined : scheduleDigest(() => runDigests(digestDeps), logger);
  const schedulesJob = overrides.disableJobs ? undefined : scheduleRunsJob(() => scheduler.tick(), logger);

  ready = true;
  logger.info({ port, mode: config.slack.appToken ? 'socket' : 'http', resumed: recovered.resumed.length, outcomeUnknown: recovered.outcomeUnknown.length }, 'agent app ready');

  return {
    port,
    db,
    engine,
    logger,
    runDigests: () => runDigests(digestDeps),
    tickSchedules: (now?: Date) => scheduler.tick(now),
    async stop() {
      ready = false;
      digestJob?.stop();
      schedulesJob?.stop();
      await app.stop().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'error while stopping Slack app'));
      await engine.stop();
      mailer?.close();
      await db.destroy();
    },
  };
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
  const shutdown = (signal: string) => {
    running.logger.info({ signal }, 'shutting down');
    void running.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`Failed to start: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
