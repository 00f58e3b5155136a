import { codePoints, marker } from './invisible.js';

/**
 * Untrusted text as it is written into Slack mrkdwn, one source character at a time: `&`, `<`, `>` become
 * entities and hidden characters become visible markers. Working per character means text is cut only
 * between whole entities and markers, and every limit is checked on what is actually sent (escaping can
 * make text up to five times longer).
 */
export interface Unit {
  /** The source character (one code point). */
  raw: string;
  /** What is written into mrkdwn for it. */
  out: string;
}

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

export function units(text: string): Unit[] {
  return codePoints(text).map((c) => ({ raw: c.ch, out: c.hidden ? marker(c.cp) : (ENTITY[c.ch] ?? c.ch) }));
}

/** Untrusted text made safe for mrkdwn: escaped, hidden characters shown. */
export function escapeText(text: string): string {
  let out = '';
  for (const u of units(text)) out += u.out;
  return out;
}

export interface Clipped {
  /** Escaped text, at most `max` characters including the ellipsis. */
  out: string;
  cut: boolean;
  /** How many source characters (UTF-16 code units) are shown. */
  shown: number;
  /** Source length (UTF-16 code units). */
  total: number;
}

/** Escapes and, when the result would exceed `max`, cuts between whole characters and adds `…`. */
export function clipText(text: string, max: number): Clipped {
  const all = units(text);
  const full = all.reduce((n, u) => n + u.out.length, 0);
  if (full <= max) return { out: all.map((u) => u.out).join(''), cut: false, shown: text.length, total: text.length };
  let out = '';
  let shown = 0;
  for (const u of all) {
    if (out.length + u.out.length > max - 1) break;
    out += u.out;
    shown += u.raw.length;
  }
  return { out: `${out}…`, cut: true, shown, total: text.length };
}

export interface Chunk {
  /** Escaped text (for fences: including the fence). */
  out: string;
  /** Source characters (UTF-16 code units) in this chunk. */
  shown: number;
}

/** Splits escaped text into pieces of at most `max` characters each, never inside an entity or marker. */
export function splitText(text: string, max: number): Chunk[] {
  const chunks: Chunk[] = [];
  let out = '';
  let shown = 0;
  for (const u of units(text)) {
    if (out.length + u.out.length > max && out.length > 0) {
      chunks.push({ out, shown });
      out = '';
      shown = 0;
    }
    out += u.out;
    shown += u.raw.length;
  }
  if (out.length > 0) chunks.push({ out, shown });
  return chunks;
}

const FENCE = '```';
const ZWSP = '\u200b';
/** Two fences, and a zero-width space at either end when the content starts or ends with a backtick. */
const FENCE_OVERHEAD = FENCE.length * 2 + 2;

/**
 * Code blocks that show text exactly. Slack still renders `<...>` and entities inside fences, so the text is
 * escaped like any other; a run of three backticks would close the fence early, so a zero-width space
 * (not a marker: the source's own zero-width spaces are already shown as `[U+200B]`) breaks every such run.
 * Each chunk, fence included, is at most `max` characters.
 */
export function fencedChunks(text: string, max: number): Chunk[] {
  const budget = max - FENCE_OVERHEAD;
  if (budget < 8) throw new RangeError(`A fenced chunk needs more than ${max} characters`);
  const chunks: Chunk[] = [];
  let out = '';
  let shown = 0;
  let ticks = 0;
  const close = () => {
    const body = `${out.startsWith('`') ? ZWSP : ''}${out}${out.endsWith('`') ? ZWSP : ''}`;
    chunks.push({ out: `${FENCE}${body}${FENCE}`, shown });
    out = '';
    shown = 0;
    ticks = 0;
  };
  for (const u of units(text)) {
    let piece = u.out;
    const tick = u.raw === '`';
    if (tick && ticks === 2) piece = `${ZWSP}\``;
    if (out.length + piece.length > budget && out.length > 0) {
      close();
      piece = u.out;
    }
    out += piece;
    shown += u.raw.length;
    ticks = tick ? (piece.startsWith(ZWSP) ? 1 : ticks + 1) : 0;
  }
  if (out.length > 0 || chunks.length === 0) {
    if (out.length === 0) out = ' ';
    close();
  }
  return chunks;
}

/** The whole text in one fence (callers that need a limit use `fencedChunks`). */
export function fenced(text: string): string {
  return fencedChunks(text, Number.MAX_SAFE_INTEGER)[0]!.out;
}
