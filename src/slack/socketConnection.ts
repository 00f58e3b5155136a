import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { AppError, errorMessage } from '../errors.js';

/**
 * What /healthz and the log report about the Socket Mode link:
 * - `connecting`: an attempt is in flight (apps.connections.open, then the WebSocket until Slack's hello);
 * - `connected`: Slack said hello on the current WebSocket;
 * - `reconnecting`: no link, the next attempt is scheduled;
 * - `stopped`: the app is shutting down.
 */
export type SocketState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

/** The part of @slack/socket-mode's SocketModeClient the supervisor drives (Bolt's `receiver.client`). */
export interface SocketModeLink {
  start(): Promise<unknown>;
  disconnect(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

export interface ReconnectPolicy {
  /** Wait before the first retry after a failed attempt; doubles per consecutive failure. */
  initialDelayMs: number;
  maxDelayMs: number;
  /**
   * A link that lasted at least this long is reconnected at once when it drops (Slack refreshes links every
   * few hours); a shorter-lived one counts as a failure, so a server that keeps closing is not hammered
   * (apps.connections.open is Tier 1).
   */
  stableAfterMs: number;
  /** A WebSocket that opened but got no hello from Slack within this time is abandoned and retried. */
  helloTimeoutMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 1000, maxDelayMs: 30_000, stableAfterMs: 60_000, helloTimeoutMs: 30_000 };

/** Platform errors that mean the app-level token itself is refused: retrying cannot fix them at startup. */
const TOKEN_REFUSED = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'not_allowed_token_type',
  'user_removed_from_team',
  'team_disabled',
]);

const socketMessage = z.looseObject({
  type: z.string(),
  reason: z.string().optional(),
});

interface SlackFailure {
  code?: string;
  statusCode?: number;
  retryAfter?: number;
  data?: { error?: string };
}

function platformError(err: unknown): string | undefined {
  const e = err as SlackFailure | undefined;
  return e?.code === 'slack_webapi_platform_error' ? e.data?.error : undefined;
}

/** A log-safe sentence for a failed attempt. The WebSocket URL carries a one-time ticket: it is never logged. */
function describeFailure(err: unknown, openUrl: string): string {
  const e = err as SlackFailure | undefined;
  switch (e?.code) {
    case 'slack_webapi_platform_error':
      return `${openUrl} answered ok:false (${e.data?.error ?? 'no error code'})`;
    case 'slack_webapi_http_error':
      return `${openUrl} answered HTTP ${e.statusCode ?? '?'}`;
    case 'slack_webapi_rate_limited_error':
      return `${openUrl} is rate limited (Retry-After ${e.retryAfter ?? '?'} s)`;
    case 'slack_webapi_request_error':
      return `${openUrl} could not be reached (${errorMessage(err)})`;
    default:
      // The client rejects with no value when the WebSocket closes before Slack's hello.
      return err === undefined ? 'the WebSocket closed before Slack said hello' : errorMessage(err);
  }
}

/**
 * Keeps the Socket Mode link up. The client's own reconnect loop is switched off (`autoReconnectEnabled:
 * false`) because in @slack/socket-mode 3.1 a failed apps.connections.open during an automatic reconnect
 * (HTTP 5xx, a network error) rejects a promise nobody awaits, which crashes Node, and then the client
 * never tries again. Here every attempt is awaited: a failure is logged with the URL and retried with
 * exponential backoff (honouring Retry-After), and the state is kept for /healthz.
 */
export class SocketConnection {
  private current: SocketState = 'reconnecting';
  private failures = 0;
  private connectedAt: number | undefined;
  private lastReason: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly policy: ReconnectPolicy;

  constructor(
    private readonly link: SocketModeLink,
    private readonly opts: {
      /** The apps.connections.open URL, for log lines (no secrets in it). */
      openUrl: string;
      logger: Logger;
      clock: Clock;
      reconnect?: Partial<ReconnectPolicy>;
    },
  ) {
    this.policy = { ...DEFAULT_RECONNECT, ...opts.reconnect };
    // 'authenticated': apps.connections.open gave a URL and the WebSocket is about to open.
    link.on('authenticated', () => this.armHelloTimer());
    link.on('connected', () => this.onConnected());
    link.on('disconnected', () => this.onDisconnected());
    link.on('ws_message', (data: unknown) => this.onMessage(data));
  }

  get state(): SocketState {
    return this.current;
  }

  /**
   * Makes the first attempt and returns once it has succeeded or failed. A refused app token stops startup
   * (a configuration error no retry fixes); any other failure is logged and retried in the background
   * while /healthz answers 503.
   */
  async start(): Promise<void> {
    this.stopping = false;
    const refused = await this.attempt(true);
    if (refused) {
      this.stopping = true;
      this.current = 'stopped';
      throw new AppError(
        'config_invalid',
        `Cannot start: Slack did not accept SLACK_APP_TOKEN at ${this.opts.openUrl} (${refused}). ` +
          'Use an app-level token (xapp-...) with the connections:write scope, and check SLACK_API_URL.',
      );
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.current = 'stopped';
    clearTimeout(this.helloTimer);
    await this.link.disconnect();
  }

  /** Resolves with the refusal code when the very first attempt found the token refused. */
  private async attempt(first: boolean): Promise<string | undefined> {
    this.timer = undefined;
    if (this.stopping) return undefined;
    this.current = 'connecting';
    this.opts.logger.info({ url: this.opts.openUrl, attempt: this.failures + 1 }, 'Socket Mode: connecting to Slack');
    try {
      await this.link.start();
      // stop() may have run while the attempt was in flight: do not keep a link nobody wants.
      if (this.stopping) await this.link.disconnect();
      return undefined;
    } catch (err) {
      clearTimeout(this.helloTimer);
      if (this.stopping) return undefined;
      const code = platformError(err);
      if (first && code && TOKEN_REFUSED.has(code)) return code;
      this.failures += 1;
      const delay = this.delayFor(err);
      this.opts.logger.error(
        { url: this.opts.openUrl, err: describeFailure(err, this.opts.openUrl), failures: this.failures, retryInMs: delay },
        first ? 'Socket Mode: could not connect to Slack at startup; retrying in the background (/healthz answers 503)' : 'Socket Mode: reconnect failed; retrying',
      );
      this.schedule(delay);
      return undefined;
    }
  }

  private delayFor(err?: unknown): number {
    if (this.failures === 0) return 0;
    const backoff = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** (this.failures - 1));
    const retryAfter = (err as SlackFailure | undefined)?.code === 'slack_webapi_rate_limited_error' ? (err as SlackFailure).retryAfter : undefined;
    return retryAfter !== undefined ? Math.max(backoff, retryAfter * 1000) : backoff;
  }

  private schedule(delayMs: number): void {
    this.current = 'reconnecting';
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // attempt() catches, logs and reschedules every connection failure; this catch is only a backstop so
      // nothing here can ever become an unhandled rejection.
      this.attempt(false).catch((err: unknown) => {
        this.opts.logger.error({ url: this.opts.openUrl, err: errorMessage(err) }, 'Socket Mode: reconnect failed; retrying');
        this.failures += 1;
        this.schedule(this.delayFor());
      });
    }, delayMs);
  }

  private armHelloTimer(): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => {
      if (this.current !== 'connecting' || this.stopping) return;
      this.opts.logger.warn({ url: this.opts.openUrl, helloTimeoutMs: this.policy.helloTimeoutMs }, 'Socket Mode: Slack sent no hello; abandoning this WebSocket');
      // Closing makes the pending attempt reject, which schedules the retry.
      void this.link.disconnect();
    }, this.policy.helloTimeoutMs);
  }

  private onConnected(): void {
    clearTimeout(this.helloTimer);
    this.current = 'connected';
    this.connectedAt = this.opts.clock.now().getTime();
    this.lastReason = undefined;
    this.opts.logger.info({ url: this.opts.openUrl }, 'Socket Mode: connected');
  }

  private onDisconnected(): void {
    // Failures of an attempt in flight are handled where the attempt is awaited.
    if (this.current !== 'connected' || this.stopping) return;
    const upForMs = this.opts.clock.now().getTime() - (this.connectedAt ?? 0);
    const reason = this.lastReason;
    if (upForMs >= this.policy.stableAfterMs && reason !== 'link_disabled') this.failures = 0;
    else this.failures += 1;
    const delay = this.delayFor();
    const fields = { url: this.opts.openUrl, reason: reason ?? 'connection lost', upForMs, retryInMs: delay };
    if (reason === 'link_disabled') {
      this.opts.logger.error(fields, 'Socket Mode: Slack turned Socket Mode off for this app; turn it back on in the app settings (retrying)');
    } else {
      this.opts.logger.warn(fields, 'Socket Mode: disconnected; reconnecting');
    }
    this.schedule(delay);
  }

  private onMessage(data: unknown): void {
    // Slack sends text frames only; the client itself ignores binary ones.
    if (typeof data !== 'string') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const msg = socketMessage.safeParse(parsed);
    if (!msg.success || msg.data.type !== 'disconnect') return;
    // The client closes the link right after this message; remember why for the log line that follows.
    this.lastReason = msg.data.reason ?? 'unspecified';
    this.opts.logger.info({ url: this.opts.openUrl, reason: this.lastReason }, 'Socket Mode: Slack asked to reconnect');
  }
}
