/**
 * The fake Claude's prompt cache, following the API's published rules:
 *  - a request may mark at most 4 blocks with `cache_control` (`{type:'ephemeral', ttl?:'5m'|'1h'}`);
 *    more is a 400, and so is a 1-hour breakpoint after a 5-minute one (render order tools -> system ->
 *    messages);
 *  - the prefix up to a breakpoint is written to the cache, unless it is shorter than the model's minimum
 *    (then silently nothing is cached);
 *  - a later request reads the longest cached prefix it repeats exactly, found at a breakpoint or up to 20
 *    blocks before one, if that prefix was used within its TTL (5 minutes, or 1 hour; refreshed on use);
 *  - usage: `cache_read_input_tokens` for the prefix read, `cache_creation_input_tokens` for what was
 *    written after it (split by TTL), `input_tokens` for the rest.
 * Tokens are estimated from the canonical JSON of each block (4 characters per token), the same way for
 * every request, so the figures add up across turns.
 */
import { createHash } from 'node:crypto';
import { canonical, isObject, normalizeContent, type Json } from './fakeClaudeCanonical.js';

/** The API's minimum cacheable prefix per model, in tokens. */
export const API_MIN_CACHEABLE_TOKENS: Record<string, number> = {
  'claude-opus-5-5': 4096,
  'claude-sonnet-5-5': 1024,
  'claude-haiku-5-5': 4096,
};
const DEFAULT_MINIMUM = 1024;
export const MAX_CACHE_BREAKPOINTS = 4;
/** How far before a breakpoint the API looks for a cached prefix. */
const LOOKBACK_BLOCKS = 20;
const TTL_MS = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;
type Ttl = keyof typeof TTL_MS;

/** A request the API refuses because of its cache markers (answered 400 invalid_request_error). */
export class CacheRequestError extends Error {}

export interface CachePlan {
  model: string;
  /** Chained hash of the prefix ending at each block, in render order. */
  keys: string[];
  /** Tokens from the start through each block. */
  through: number[];
  total: number;
  breakpoints: Array<{ at: number; ttl: Ttl }>;
}

export interface CacheCharge {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
}

export function blockTokens(v: unknown): number {
  return Math.max(1, Math.ceil(canonical(v).length / 4));
}

function ttlOf(cc: unknown, path: string): Ttl {
  if (!isObject(cc) || cc.type !== 'ephemeral') throw new CacheRequestError(`${path}.cache_control.type: Input should be 'ephemeral'`);
  for (const k of Object.keys(cc)) {
    if (k !== 'type' && k !== 'ttl') throw new CacheRequestError(`${path}.cache_control.ephemeral.${k}: Extra inputs are not permitted`);
  }
  if (cc.ttl === undefined || cc.ttl === null) return '5m';
  if (cc.ttl === '5m' || cc.ttl === '1h') return cc.ttl;
  throw new CacheRequestError(`${path}.cache_control.ephemeral.ttl: Input should be '5m' or '1h'`);
}

export class PromptCache {
  private readonly entries = new Map<string, { expiresAt: number; ttlMs: number }>();

  constructor(private readonly opts: { now: () => number; minimums?: Record<string, number> }) {}

  minimum(model: string): number {
    return this.opts.minimums?.[model] ?? API_MIN_CACHEABLE_TOKENS[model] ?? DEFAULT_MINIMUM;
  }

  /** Reads the request's blocks and breakpoints; throws CacheRequestError for markers the API refuses. */
  plan(body: Json): CachePlan {
    const model = String(body.model);
    const segments: Array<{ value: unknown; path: string; marks: Array<{ cc: unknown; path: string }> }> = [];
    const marksOf = (block: unknown, path: string): Array<{ cc: unknown; path: string }> => {
      if (!isObject(block)) return [];
      const marks = block.cache_control !== undefined && block.cache_control !== null ? [{ cc: block.cache_control, path }] : [];
      // Blocks nested in a tool result may carry a breakpoint too; it ends the prefix at the result.
      if (Array.isArray(block.content)) {
        block.content.forEach((inner, k) => {
          if (isObject(inner) && inner.cache_control !== undefined && inner.cache_control !== null) marks.push({ cc: inner.cache_control, path: `${path}.content.${k}` });
        });
      }
      return marks;
    };
    (Array.isArray(body.tools) ? body.tools : []).forEach((t, i) => segments.push({ value: { tool: t }, path: `tools.${i}`, marks: marksOf(t, `tools.${i}`) }));
    const system = normalizeContent(body.system ?? []);
    (Array.isArray(system) ? system : []).forEach((b, i) => segments.push({ value: { system: b }, path: `system.${i}`, marks: marksOf(b, `system.${i}`) }));
    (Array.isArray(body.messages) ? body.messages : []).forEach((m: unknown, i) => {
      if (!isObject(m)) return;
      const content = normalizeContent(m.content);
      (Array.isArray(content) ? content : []).forEach((b, j) => {
        const path = `messages.${i}.content.${j}`;
        segments.push({ value: { role: m.role, block: b }, path, marks: marksOf(b, path) });
      });
    });
    // Top-level cache_control (automatic caching) marks the last block.
    if (body.cache_control !== undefined && segments.length > 0) segments.at(-1)!.marks.push({ cc: body.cache_control, path: '' });

    const keys: string[] = [];
    const through: number[] = [];
    const breakpoints: CachePlan['breakpoints'] = [];
    let hash = createHash('sha256').update(`model:${model}`).digest('hex');
    let total = 0;
    let marks = 0;
    let seenFiveMinutes = false;
    segments.forEach((s, at) => {
      hash = createHash('sha256').update(hash).update(canonical(s.value)).digest('hex');
      total += blockTokens(s.value);
      keys.push(hash);
      through.push(total);
      let ttl: Ttl | undefined;
      for (const m of s.marks) {
        marks++;
        const t = ttlOf(m.cc, m.path || 'cache_control');
        if (t === '1h' && seenFiveMinutes) {
          throw new CacheRequestError(
            `${m.path}.cache_control: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block (blocks are processed in the order tools, system, messages)`,
          );
        }
        if (t === '5m') seenFiveMinutes = true;
        ttl = ttl === '1h' || t === '1h' ? '1h' : '5m';
      }
      if (ttl) breakpoints.push({ at, ttl });
    });
    if (marks > MAX_CACHE_BREAKPOINTS) {
      throw new CacheRequestError(`A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${marks}.`);
    }
    return { model, keys, through, total, breakpoints };
  }

  /** What a processed request is charged; records its writes and refreshes what it read. */
  charge(plan: CachePlan): CacheCharge {
    const now = this.opts.now();
    const live = (key: string | undefined) => {
      const e = key === undefined ? undefined : this.entries.get(key);
      return e && e.expiresAt > now ? e : undefined;
    };
    let hit = -1;
    for (const b of plan.breakpoints) {
      for (let p = b.at; p >= Math.max(0, b.at - LOOKBACK_BLOCKS); p--) {
        if (p <= hit) break;
        if (live(plan.keys[p])) {
          hit = p;
          break;
        }
      }
    }
    const read = hit >= 0 ? plan.through[hit]! : 0;
    const min = this.minimum(plan.model);
    let prev = read;
    const written = { '5m': 0, '1h': 0 };
    for (const b of plan.breakpoints) {
      const upTo = plan.through[b.at]!;
      if (b.at <= hit || upTo < min) continue;
      written[b.ttl] += upTo - prev;
      prev = upTo;
    }
    // Use refreshes an entry's lifetime; a breakpoint on a prefix that is cached already extends it.
    const hitEntry = live(plan.keys[hit]);
    if (hitEntry) hitEntry.expiresAt = Math.max(hitEntry.expiresAt, now + hitEntry.ttlMs);
    for (const b of plan.breakpoints) {
      if (plan.through[b.at]! < min) continue;
      const key = plan.keys[b.at]!;
      const ttlMs = TTL_MS[b.ttl];
      const e = live(key);
      this.entries.set(key, { expiresAt: Math.max(e?.expiresAt ?? 0, now + ttlMs), ttlMs: Math.max(e?.ttlMs ?? 0, ttlMs) });
    }
    return {
      inputTokens: plan.total - read - written['5m'] - written['1h'],
      cacheReadTokens: read,
      cacheWrite5mTokens: written['5m'],
      cacheWrite1hTokens: written['1h'],
    };
  }

  /** Prefixes cached and not expired. */
  size(): number {
    const now = this.opts.now();
    return [...this.entries.values()].filter((e) => e.expiresAt > now).length;
  }

  clear(): void {
    this.entries.clear();
  }
}
