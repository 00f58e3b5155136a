import type { Server, ServerResponse } from 'node:http';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { RetryOptions, WebClientOptions } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Foreground } from '../foreground.js';
import { healthHandler, listenHealth } from './health.js';
import { SocketConnection, type ReconnectPolicy } from './socketConnection.js';
import { registerActions } from './listeners/actions/index.js';
import { registerCommands } from './listeners/commands/index.js';
import { registerEvents } from './listeners/events/index.js';
import { registerViews } from './listeners/views/index.js';
import { INSTALL_PATH, REDIRECT_PATH, type OAuthInstall } from './oauth/index.js';
import { STATE_TTL_SECONDS } from './oauth/stateStore.js';
import type { SlackServices } from './services.js';

export interface SlackAppOptions {
  /** Single-workspace mode; unset in OAuth mode, where each request's workspace token comes from `oauth`. */
  botToken: string | undefined;
  /** OAuth mode: serves /slack/install and /slack/oauth_redirect and authorizes requests per workspace. */
  oauth?: OAuthInstall;
  signingSecret: string | undefined;
  appToken: string | undefined;
  apiUrl: string | undefined;
  /** HTTP mode: POST /slack/events and GET /healthz; Socket Mode: GET /healthz only. 0 picks a free port. */
  port: number;
  clock: Clock;
  /** Socket Mode: reconnect backoff (tests shorten it). */
  reconnect?: Partial<ReconnectPolicy>;
  logger: Logger;
  /** Web API retries: bounded on purpose (the library default retries for ~30 minutes). */
  retryConfig: RetryOptions;
  /** Answered by GET /healthz: 200 once the app is ready (and, in Socket Mode, connected). */
  isReady(): boolean;
  /** Skips auth.test at construction (tests and benchmarks that know the bot's identity). */
  botIdentity?: { botId: string; botUserId: string };
  /** HTTP mode: every request counts as foreground work until its answer is sent (src/foreground.ts). */
  foreground?: Foreground;
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

/** The Bolt app with how it receives: HTTP (POST /slack/events) or Socket Mode, plus GET /healthz. */
export interface SlackRuntime {
  app: App;
  /** Socket Mode only: the link's state, as /healthz reports it. */
  socket: SocketConnection | undefined;
  /** Starts receiving; resolves with the HTTP port. */
  start(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** The apps.connections.open URL the socket client calls, for log lines. */
function connectionsOpenUrl(apiUrl: string | undefined): string {
  const base = webClientOptions(apiUrl, {}).slackApiUrl ?? 'https://slack.com/api/';
  return `${base}apps.connections.open`;
}

/** Bolt's own OAuth support on the HTTP receiver, backed by the app's database. */
function oauthReceiverOptions(oauth: OAuthInstall) {
  return {
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    stateSecret: oauth.stateSecret,
    scopes: oauth.scopes,
    installationStore: oauth.store,
    installerOptions: {
      stateStore: oauth.stateStore,
      // GET /slack/install redirects straight to Slack's authorize page (with the state and its cookie).
      directInstall: true,
      installPath: INSTALL_PATH,
      redirectUriPath: REDIRECT_PATH,
      authorizationUrl: oauth.authorizationUrl,
      clientOptions: oauth.clientOptions,
      callbackOptions: oauth.callbackOptions,
      stateCookieExpirationSeconds: STATE_TTL_SECONDS,
    },
  };
}

/** Builds the Bolt app: HTTP mode (POST /slack/events, GET /healthz) or Socket Mode when an app token is set. */
export function createSlackApp(opts: SlackAppOptions, services: SlackServices): SlackRuntime {
  const logger = boltLogger(opts.logger);
  const clientOptions = webClientOptions(opts.apiUrl, opts.retryConfig);
  const receiver = opts.appToken
    ? new SocketModeReceiver({
        appToken: opts.appToken,
        logger,
        // Reconnects are driven by SocketConnection (see there why the client's own loop is off).
        autoReconnectEnabled: false,
        // The socket client's own WebClient (it calls apps.connections.open with the app token) takes its
        // options from here: without them it ignores SLACK_API_URL and always calls slack.com. They must
        // not carry `headers`: the client spreads them over its own `Authorization: Bearer <app token>`.
        installerOptions: { clientOptions: webClientOptions(opts.apiUrl, opts.retryConfig) },
      })
    : new HTTPReceiver({
        signingSecret: opts.signingSecret ?? '',
        logger,
        customRoutes: [{ path: '/healthz', method: ['GET'], handler: healthHandler(opts.isReady) }],
        // Ack first, work after: Slack needs the HTTP answer within 3 seconds.
        processBeforeResponse: false,
        ...(opts.oauth ? oauthReceiverOptions(opts.oauth) : {}),
      });
  // OAuth mode: no token here, so Bolt authorizes each request with the receiver's installer, which reads
  // the workspace's installation (and refreshes a rotating token); listeners get `context.botToken`.
  const app = new App({
    ...(opts.oauth ? {} : { token: opts.botToken }),
    receiver,
    logger,
    clientOptions,
    ...(opts.botIdentity && !opts.oauth ? { botId: opts.botIdentity.botId, botUserId: opts.botIdentity.botUserId } : {}),
  });
  registerCommands(app, services);
  registerActions(app, services);
  registerViews(app, services);
  registerEvents(app, services);
  app.error(async (err) => {
    const code = (err as { code?: string }).code;
    // OAuth mode: a request from a workspace without an installation (uninstalled, or never installed).
    if (code === 'slack_bolt_authorization_error') {
      opts.logger.warn({ err: err.message, code }, 'request from a workspace the app is not installed in; ignored');
      return;
    }
    opts.logger.error({ err: err.message, code }, 'unhandled Slack listener error');
  });

  if (!(receiver instanceof SocketModeReceiver)) {
    return {
      app,
      socket: undefined,
      async start() {
        const server = (await app.start(opts.port)) as Server;
        const fg = opts.foreground;
        if (fg) {
          server.on('request', (_req, res: ServerResponse) => {
            const end = fg.begin();
            res.once('finish', end).once('close', end);
          });
        }
        const address = server.address();
        return address && typeof address === 'object' ? address.port : undefined;
      },
      async stop() {
        await app.stop();
      },
    };
  }
  const socket = new SocketConnection(receiver.client, {
    openUrl: connectionsOpenUrl(opts.apiUrl),
    logger: opts.logger,
    clock: opts.clock,
    ...(opts.reconnect ? { reconnect: opts.reconnect } : {}),
  });
  let health: Server | undefined;
  return {
    app,
    socket,
    async start() {
      // /healthz first, so it answers 503 while the first connection is being made.
      health = await listenHealth(opts.port, healthHandler(opts.isReady, () => socket.state));
      try {
        await socket.start();
      } catch (err) {
        health.close();
        throw err;
      }
      const address = health.address();
      return address && typeof address === 'object' ? address.port : undefined;
    },
    async stop() {
      await socket.stop();
      if (health) {
        health.closeAllConnections();
        await new Promise<void>((resolve) => health!.close(() => resolve()));
      }
    },
  };
}
