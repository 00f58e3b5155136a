/**
 * How the Slack fake reads messages back: timeline arguments (`oldest`, `latest`, `inclusive`, `limit`),
 * cursor pagination and message metadata, as Slack documents them for conversations.history and
 * conversations.replies and for the `metadata` argument of chat.postMessage / chat.update.
 */

type Fail = (code: string, details?: string[]) => never;

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

/**
 * Slack's message ts ("1700000000.000100") as an exact integer of microseconds: a double cannot hold
 * sixteen significant digits, and string order breaks when the argument has fewer decimals ("1700000000").
 */
export function tsMicros(ts: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d{1,6})\d*)?$/.exec(ts);
  if (!m?.[1]) return undefined;
  return BigInt(m[1]) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** Slack's cursors are opaque base64; decoded, theirs read `next_ts:<ts without the dot>`, and so do these. */
export function encodeCursor(micros: bigint): string {
  return Buffer.from(`next_ts:${micros}`, 'utf8').toString('base64');
}

function decodeCursor(cursor: string): bigint | undefined {
  const m = /^next_ts:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  return m?.[1] ? BigInt(m[1]) : undefined;
}

export interface Timeline {
  oldest: bigint;
  latest: bigint | null;
  inclusive: boolean;
  limit: number;
  cursor: bigint | null;
}

function flag(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === 1;
}

/** `limit` defaults and maximums differ per method (history: 100 / 999, replies: 1000). */
export function readTimeline(
  args: Record<string, unknown>,
  limits: { defaultLimit: number; maxLimit: number },
  fail: Fail,
): Timeline {
  const ts = (key: 'oldest' | 'latest', code: string): bigint | null => {
    const v = args[key];
    if (v === undefined || v === '') return null;
    const micros = tsMicros(String(v));
    if (micros === undefined) fail(code);
    return micros;
  };
  const oldest = ts('oldest', 'invalid_ts_oldest') ?? 0n;
  const latest = ts('latest', 'invalid_ts_latest');

  let limit = limits.defaultLimit;
  if (args.limit !== undefined && args.limit !== '') {
    const n = Number(args.limit);
    if (!Number.isInteger(n) || n < 0) fail('invalid_arguments', ['[ERROR] limit must be a non-negative integer']);
    // Slack treats 0 as "the default" and caps anything above the maximum.
    if (n > 0) limit = Math.min(n, limits.maxLimit);
  }

  let cursor: bigint | null = null;
  if (typeof args.cursor === 'string' && args.cursor !== '') {
    const c = decodeCursor(args.cursor);
    if (c === undefined) fail('invalid_cursor');
    cursor = c;
  }
  return { oldest, latest, inclusive: flag(args.inclusive), limit, cursor };
}

function inRange(micros: bigint, t: Timeline): boolean {
  const afterOldest = t.inclusive ? micros >= t.oldest : micros > t.oldest;
  const beforeLatest = t.latest === null || (t.inclusive ? micros <= t.latest : micros < t.latest);
  return afterOldest && beforeLatest;
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
  /** '' when there is no further page, as Slack sends it. */
  nextCursor: string;
}

/**
 * One page of `items` (sorted oldest first) in the given order. `newest_first` pages backwards from
 * `latest` (conversations.history); `oldest_first` pages forwards from `oldest` (conversations.replies).
 * `lead` goes first on the first page only and counts against the limit: conversations.replies puts the
 * thread's parent there whatever `oldest`/`latest` say.
 */
export function timelinePage<T extends { ts: string }>(
  items: T[],
  order: 'newest_first' | 'oldest_first',
  t: Timeline,
  lead?: T,
): Page<T> {
  const keyed = items
    .map((item) => ({ item, micros: tsMicros(item.ts) ?? 0n }))
    .filter((x) => inRange(x.micros, t));
  if (order === 'newest_first') keyed.reverse();
  const rest =
    t.cursor === null
      ? keyed
      : keyed.filter((x) => (order === 'newest_first' ? x.micros <= (t.cursor as bigint) : x.micros >= (t.cursor as bigint)));
  const withLead = t.cursor === null && lead ? [{ item: lead, micros: tsMicros(lead.ts) ?? 0n }, ...rest] : rest;
  const page = withLead.slice(0, t.limit);
  const next = withLead[t.limit];
  return {
    items: page.map((x) => x.item),
    hasMore: next !== undefined,
    nextCursor: next ? encodeCursor(next.micros) : '',
  };
}

export type MetadataCheck = { metadata: MessageMetadata } | { ignoredWarning: string };

/**
 * The `metadata` argument of chat.postMessage / chat.update: `{ event_type, event_payload }`. A wrong
 * shape is an error. An event_type with characters other than letters, digits, `_` and `-` is, per
 * Slack's docs, answered with an `invalid_metadata_schema` warning and the metadata is dropped.
 */
export function checkMetadata(raw: unknown, fail: Fail): MetadataCheck | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('invalid_metadata_format');
  const m = raw as Record<string, unknown>;
  if (typeof m.event_type !== 'string' || m.event_type === '') {
    fail('invalid_metadata_schema', ['[ERROR] missing required field: event_type [json-pointer:/metadata/event_type]']);
  }
  const payload = m.event_payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    fail('invalid_metadata_schema', ['[ERROR] event_payload must be an object [json-pointer:/metadata/event_payload]']);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(m.event_type)) return { ignoredWarning: 'invalid_metadata_schema' };
  return { metadata: { event_type: m.event_type, event_payload: payload as Record<string, unknown> } };
}
