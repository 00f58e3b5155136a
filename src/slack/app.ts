import type { ServerResponse } from 'node:http';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { RetryOptions, WebClientOptions } from '@slack/web-api';
import type { Logger } from 'pino';
import { registerActions } from './listeners/actions/index.js';
import { registerCommands } from './listeners/commands/index.js';
import { registerViews } from './listeners/views/index.js';
import type { SlackServices } from './services.js';

export interface SlackAppOptions {
  botToken: string;
  signingSecret: string | undefined;
  appToken: string | undefined;
  apiUrl: string | undefined;
  /** Socket Mode only: where /healthz is served. */
  port: number;
  logger: Logger;
  /** Web API retries: bounded on purpose (the library default retries for ~30 minutes). */
  retryConfig: RetryOptions;
  /** Answered by GET /healthz (HTTP mode): 200 once the app is ready. */
  isReady(): boolean;
  /** Skips auth.test at construction (tests and benchmarks that know the bot's identity). */
  botIdentity?: { botId: string; botUserId: string };
}

/** Bolt's logger interface backed by pino, so Slack's own messages share our redaction. */
function boltLogger(logger: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const child = logger.child({ component: 'bolt' });
  return {
    debug: (...m: unknown[]) => child.debug(m.map(String).join(' ')),
    info: (...m: unknown[]) => child.info(m.map(String).join(' ')),
    warn: (...m: unknown[]) => child.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => child.error(m.map(String).join(' ')),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

function health(isReady: () => boolean) {
  return (_req: unknown, res: ServerResponse) => {
    const ready = isReady();
    res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: ready }));
  };
}

/**
 * Web API client options used for every Slack client of the app (ours and Bolt's): SLACK_API_URL, the
 * bounded retry policy, and 429s surfaced to callers (otherwise one rate limit pauses every Slack call of
 * the process for Retry-After; callers retry instead).
 */
export function webClientOptions(apiUrl: string | undefined, retryConfig: RetryOptions): WebClientOptions {
  return {
    ...(apiUrl ? { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` } : {}),
    retryConfig,
    rejectRateLimitedCalls: true,
    timeout: 15_000,
  };
}

/** Builds the Bolt app: HTTP mode (POST /slack/events, GET /healthz) or Socket Mode when an app token is set. */
export function createSlackApp(opts: SlackAppOptions, services: SlackServices): App {
  const logger = boltLogger(opts.logger);
  const clientOptions = webClientOptions(opts.apiUrl, opts.retryConfig);
  const receiver = opts.appToken
    ? new SocketModeReceiver({
        appToken: opts.appToken,
        logger,
        // Socket Mode needs no public endpoint, but /healthz is still served on PORT for orchestrators.
        customRoutes: [{ path: '/healthz', method: 'GET', handler: health(opts.isReady) }],
        installerOptions: { port: opts.port },
      })
    : new HTTPReceiver({
        signingSecret: opts.signingSecret ?? '',
        logger,
        customRoutes: [{ path: '/healthz', method: ['GET'], handler: health(opts.isReady) }],
        // Ack first, work after: Slack needs the HTTP answer within 3 seconds.
        processBeforeResponse: false,
      });
  const app = new App({
    token: opts.botToken,
    receiver,
    logger,
    clientOptions,
    ...(opts.botIdentity ? { botId: opts.botIdentity.botId, botUserId: opts.botIdentity.botUserId } : {}),
  });
  registerCommands(app, services);
  registerActions(app, services);
  registerViews(app, services);
  app.error(async (err) => {
    opts.logger.error({ err: err.message, code: (err as { code?: string }).code }, 'unhandled Slack listener error');
  });
  return app;
}
