/**
 * Client-side pacing that matches Slack's published limits, so the app mostly never sees a 429 and one
 * busy channel never holds back another. Limits are per workspace (and per channel for chat.postMessage);
 * a 429's Retry-After blocks exactly the scope it came from.
 *
 * chat.postMessage: about one message per second per channel, short bursts tolerated, and several hundred
 * per minute per workspace. Other methods: per-method tiers per workspace (Tier 2 20/min, Tier 3 50/min,
 * Tier 4 100/min). We stay a little under each limit: the server counts arrivals, we count departures.
 */

export interface PacerLimits {
  /** chat.postMessage per channel: minimum spacing once the burst is used. */
  postIntervalMs: number;
  postBurst: number;
  /** chat.postMessage per workspace, per minute. */
  postPerMinute: number;
  /** Other methods, calls per minute per workspace. */
  perMinute: Record<string, number>;
  /** Methods not listed: Tier 3. */
  defaultPerMinute: number;
}

export const SLACK_LIMITS: PacerLimits = {
  postIntervalMs: 1100,
  postBurst: 2,
  postPerMinute: 250,
  perMinute: {
    'chat.update': 45,
    'chat.delete': 45,
    'chat.postEphemeral': 90,
    'chat.getPermalink': 250,
    'conversations.history': 45,
    'conversations.replies': 45,
    'views.open': 90,
    'views.update': 90,
    'views.publish': 90,
    'users.info': 90,
    'usergroups.users.list': 18,
  },
  defaultPerMinute: 45,
};

const MINUTE = 60_000;

interface Bucket {
  tokens: number;
  last: number;
}

export class SlackPacer {
  private readonly buckets = new Map<string, Bucket>();
  private readonly windows = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly baseLimits: PacerLimits = SLACK_LIMITS,
    /**
     * Instances delivering the same outbox (they share the app's limits): each paces itself to its share,
     * so together they stay under Slack's limits without talking to each other on every call.
     */
    private readonly instances: () => number = () => 1,
  ) {}

  private get limits(): PacerLimits {
    const n = Math.max(1, Math.floor(this.instances()));
    if (n === 1) return this.baseLimits;
    const share = (v: number) => Math.max(1, Math.floor(v / n));
    const b = this.baseLimits;
    return {
      postIntervalMs: b.postIntervalMs * n,
      postBurst: share(b.postBurst),
      postPerMinute: share(b.postPerMinute),
      perMinute: Object.fromEntries(Object.entries(b.perMinute).map(([k, v]) => [k, share(v)])),
      defaultPerMinute: share(b.defaultPerMinute),
    };
  }

  /** The scope a 429 blocks: one channel for chat.postMessage, the whole method otherwise. */
  static scope(teamId: string, method: string, channel: string | undefined): string {
    return method === 'chat.postMessage' ? `${teamId}|${method}|${channel ?? ''}` : `${teamId}|${method}`;
  }

  /**
   * Takes a slot for one call, or says how long to wait. Nothing is consumed when the answer is a wait.
   */
  take(teamId: string, method: string, channel?: string): number {
    return this.check(teamId, method, channel, true);
  }

  /** How long a call would have to wait now (0: it could go); takes nothing. */
  wait(teamId: string, method: string, channel?: string): number {
    return this.check(teamId, method, channel, false);
  }

  private check(teamId: string, method: string, channel: string | undefined, consume: boolean): number {
    const now = this.now();
    const scope = SlackPacer.scope(teamId, method, channel);
    const blocked = this.blockedUntil.get(scope) ?? 0;
    if (blocked > now) return blocked - now;
    if (method === 'chat.postMessage') {
      const wsWait = this.windowWait(`${teamId}|post`, this.limits.postPerMinute, now);
      if (wsWait > 0) return wsWait;
      const b = this.buckets.get(scope) ?? { tokens: this.limits.postBurst, last: now };
      const refill = (now - b.last) / this.limits.postIntervalMs;
      const tokens = Math.min(this.limits.postBurst, b.tokens + refill);
      if (tokens < 1) {
        if (consume) this.buckets.set(scope, { tokens, last: now });
        return Math.ceil((1 - tokens) * this.limits.postIntervalMs);
      }
      if (!consume) return 0;
      this.buckets.set(scope, { tokens: tokens - 1, last: now });
      this.record(`${teamId}|post`, now);
      return 0;
    }
    const limit = this.limits.perMinute[method] ?? this.limits.defaultPerMinute;
    const wait = this.windowWait(scope, limit, now);
    if (wait > 0 || !consume) return wait;
    this.record(scope, now);
    return 0;
  }

  /** Slack said 429: nothing in that scope goes out before Retry-After has passed. */
  block(teamId: string, method: string, channel: string | undefined, retryAfterMs: number): void {
    const scope = SlackPacer.scope(teamId, method, channel);
    const until = this.now() + retryAfterMs;
    if ((this.blockedUntil.get(scope) ?? 0) < until) this.blockedUntil.set(scope, until);
  }

  private windowWait(key: string, limit: number, now: number): number {
    const list = this.windows.get(key);
    if (!list) return 0;
    while (list.length > 0 && (list[0] ?? 0) <= now - MINUTE) list.shift();
    if (list.length < limit) return 0;
    return (list[0] ?? now) + MINUTE - now;
  }

  private record(key: string, now: number): void {
    const list = this.windows.get(key) ?? [];
    list.push(now);
    this.windows.set(key, list);
  }
}
