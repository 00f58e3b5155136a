/**
 * Slack's published Web API rate limits, enforced by the Slack fake for its one workspace.
 *
 * Slack limits per app, per workspace, per method. `chat.postMessage` is special: about one message per
 * second per channel with short bursts tolerated, plus a workspace ceiling of several hundred a minute.
 * Other methods belong to tiers (Tier 2: 20+/min, Tier 3: 50+/min, Tier 4: 100+/min). The fake enforces
 * the floor of each tier exactly, so an app that is fine here has headroom in production.
 *
 * Budget is consumed by every call the fake lets through, whatever its platform outcome (Slack counts
 * calls, not successes); a call answered 429 consumes nothing. The clock is injected so tests can move
 * time instead of sleeping.
 */

export interface FakeSlackRateLimitConfig {
  /** Length of the sliding window of the tier limits and of the workspace ceiling of chat.postMessage. */
  windowMs: number;
  /** chat.postMessage per channel: a token bucket refilled at `perSecond`, holding at most `burst`. */
  postMessagePerChannel: { perSecond: number; burst: number };
  /** chat.postMessage across every channel of the workspace, per window. */
  postMessagePerWindow: number;
  /** Calls per window, per method, for methods other than chat.postMessage. */
  perMethod: Record<string, number>;
  /** Calls per window for a method not listed in `perMethod` (Slack's Tier 3). */
  defaultPerWindow: number;
}

/** What `startFakeSlack({ rateLimits })` accepts: off, Slack's defaults, or defaults with overrides. */
export type FakeSlackRateLimitsOption =
  | boolean
  | {
      windowMs?: number;
      postMessagePerChannel?: Partial<FakeSlackRateLimitConfig['postMessagePerChannel']>;
      postMessagePerWindow?: number;
      /** Merged over the defaults, method by method. */
      perMethod?: Record<string, number>;
      defaultPerWindow?: number;
    };

export const SLACK_TIER_2 = 20;
export const SLACK_TIER_3 = 50;
export const SLACK_TIER_4 = 100;

export const DEFAULT_RATE_LIMITS: Readonly<FakeSlackRateLimitConfig> = Object.freeze({
  windowMs: 60_000,
  postMessagePerChannel: Object.freeze({ perSecond: 1, burst: 3 }),
  postMessagePerWindow: 300,
  perMethod: Object.freeze({
    'usergroups.users.list': SLACK_TIER_2,
    'chat.update': SLACK_TIER_3,
    'chat.delete': SLACK_TIER_3,
    'conversations.history': SLACK_TIER_3,
    'conversations.replies': SLACK_TIER_3,
    'conversations.info': SLACK_TIER_3,
    'conversations.join': SLACK_TIER_3,
    // Slack documents "hundreds per minute" for permalinks.
    'chat.getPermalink': 300,
    'chat.postEphemeral': SLACK_TIER_4,
    'views.open': SLACK_TIER_4,
    'views.push': SLACK_TIER_4,
    'views.update': SLACK_TIER_4,
    'views.publish': SLACK_TIER_4,
    'conversations.members': SLACK_TIER_4,
    'users.info': SLACK_TIER_4,
  }),
  defaultPerWindow: SLACK_TIER_3,
});

export function resolveRateLimits(option: FakeSlackRateLimitsOption | undefined): FakeSlackRateLimitConfig | null {
  if (option === undefined || option === false) return null;
  const d = DEFAULT_RATE_LIMITS;
  if (option === true) {
    return { ...d, postMessagePerChannel: { ...d.postMessagePerChannel }, perMethod: { ...d.perMethod } };
  }
  return {
    windowMs: option.windowMs ?? d.windowMs,
    postMessagePerChannel: { ...d.postMessagePerChannel, ...option.postMessagePerChannel },
    postMessagePerWindow: option.postMessagePerWindow ?? d.postMessagePerWindow,
    perMethod: { ...d.perMethod, ...option.perMethod },
    defaultPerWindow: option.defaultPerWindow ?? d.defaultPerWindow,
  };
}

/** Identity and app-management calls are not rate-limited like the workspace methods. */
export function isRateLimitExempt(method: string): boolean {
  return method === 'auth.test' || method.startsWith('apps.');
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSec: number };

/** Retry-After as Slack sends it: whole seconds, at least 1. */
function retryAfterSec(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/** Timestamps of admitted calls within the window, oldest first. */
class SlidingWindow {
  private readonly times: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until a slot frees; 0 when one is free now. */
  waitMs(now: number): number {
    while (this.times.length > 0 && (this.times[0] as number) <= now - this.windowMs) this.times.shift();
    if (this.times.length < this.limit) return 0;
    // A method configured to 0 calls never frees a slot; answer with a full window.
    if (this.limit <= 0) return this.windowMs;
    // Admitted calls never exceed the limit, so the oldest one is the next to leave the window.
    return (this.times[this.times.length - this.limit] as number) + this.windowMs - now;
  }

  take(now: number): void {
    this.times.push(now);
  }
}

class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  waitMs(now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
      this.at = now;
    }
    // The epsilon absorbs float drift from fractional refills.
    const missing = 1 - this.tokens;
    return missing <= 1e-9 ? 0 : (missing / this.perSecond) * 1000;
  }

  take(): void {
    this.tokens -= 1;
  }
}

export class FakeSlackRateLimiter {
  private readonly windows = new Map<string, SlidingWindow>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly postMessageWorkspace: SlidingWindow;

  constructor(
    private readonly config: FakeSlackRateLimitConfig,
    private readonly now: () => number,
  ) {
    this.postMessageWorkspace = new SlidingWindow(config.postMessagePerWindow, config.windowMs);
  }

  /**
   * Admits the call and consumes its budget, or says how long to wait. `channel` is the resolved channel
   * id of a chat.postMessage, so each channel has its own bucket and a 429 on one never holds back another.
   */
  admit(method: string, channel: string | undefined): RateDecision {
    if (isRateLimitExempt(method)) return { allowed: true };
    const now = this.now();
    if (method === 'chat.postMessage') {
      const bucket = this.bucket(channel ?? '', now);
      // A slot must be free in both the channel's bucket and the workspace window.
      const wait = Math.max(bucket.waitMs(now), this.postMessageWorkspace.waitMs(now));
      if (wait > 0) return { allowed: false, retryAfterSec: retryAfterSec(wait) };
      bucket.take();
      this.postMessageWorkspace.take(now);
      return { allowed: true };
    }
    const window = this.window(method);
    const wait = window.waitMs(now);
    if (wait > 0) return { allowed: false, retryAfterSec: retryAfterSec(wait) };
    window.take(now);
    return { allowed: true };
  }

  private bucket(channel: string, now: number): TokenBucket {
    let b = this.buckets.get(channel);
    if (!b) {
      const { perSecond, burst } = this.config.postMessagePerChannel;
      b = new TokenBucket(perSecond, burst, now);
      this.buckets.set(channel, b);
    }
    return b;
  }

  private window(method: string): SlidingWindow {
    let w = this.windows.get(method);
    if (!w) {
      w = new SlidingWindow(this.config.perMethod[method] ?? this.config.defaultPerWindow, this.config.windowMs);
      this.windows.set(method, w);
    }
    return w;
  }
}
