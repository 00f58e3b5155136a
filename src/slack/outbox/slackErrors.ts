import { ErrorCode } from '@slack/web-api';
import { isAppError } from '../../errors.js';

/**
 * How a failed Web API call is handled by the outbox:
 * - rate_limited: wait Retry-After, then send again (not counted as an attempt);
 * - transient: the request certainly did nothing (or is harmless to repeat): back off and retry;
 * - ambiguous: Slack may have performed it (5xx, timeout, dropped connection): a post is looked up
 *   before it is sent again, an update is simply sent again;
 * - permanent: retrying cannot help (channel_not_found, not_in_channel, invalid_blocks, ...).
 */
export type SlackFailure =
  | { kind: 'rate_limited'; retryAfterMs: number; message: string }
  | { kind: 'transient'; message: string }
  | { kind: 'ambiguous'; message: string }
  | { kind: 'permanent'; code: string; message: string };

/** Platform errors that mean "try again later" rather than "this can never work". */
const TRANSIENT_PLATFORM_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org', 'ratelimited']);

export function classifySlackError(err: unknown): SlackFailure {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string }; message?: string };
  const message = e?.message ?? String(err);
  // No token for the workspace (uninstalled, or never installed): waiting cannot bring one back.
  if (isAppError(err, 'not_installed')) return { kind: 'permanent', code: 'not_installed', message };
  switch (e?.code) {
    case ErrorCode.RateLimitedError:
      return { kind: 'rate_limited', retryAfterMs: Math.max(1, e.retryAfter ?? 1) * 1000, message };
    case ErrorCode.PlatformError: {
      const code = e.data?.error ?? 'unknown_error';
      if (code === 'ratelimited') return { kind: 'rate_limited', retryAfterMs: 1000, message };
      if (TRANSIENT_PLATFORM_ERRORS.has(code)) return { kind: 'ambiguous', message: `Slack error ${code}` };
      return { kind: 'permanent', code, message: `Slack error ${code}` };
    }
    case ErrorCode.HTTPError:
      // A 5xx may come after Slack stored the message; 4xx other than 429 never performed anything.
      if ((e.statusCode ?? 500) >= 500) return { kind: 'ambiguous', message };
      return { kind: 'permanent', code: `http_${e.statusCode ?? 400}`, message };
    case ErrorCode.RequestError:
      return { kind: 'ambiguous', message };
    default:
      return { kind: 'ambiguous', message };
  }
}
