/**
 * Characters a reader cannot see but that change what text says or how it reads: direction overrides
 * (U+202E can make "exe.pdf" read as "fdp.exe"), zero-width characters that split or join words, tag
 * characters that smuggle whole hidden sentences, control characters. On anything a person approves they
 * are shown as `[U+202E]` so what the approver reads is what will be sent.
 */

// Format (Cf) and control (Cc) characters, line/paragraph separators, and the few "blank" letters and
// marks that are invisible in practice (Hangul fillers, the combining grapheme joiner, Mongolian free
// variation selectors). Tab and newline are layout, not tricks; CR is kept only as part of CRLF.
const CANDIDATE = /[\p{Cf}\p{Cc}\u2028\u2029\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0]/u;

const ZWJ = 0x200d;
const BLACK_FLAG = 0x1f3f4;
const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;

function isTag(cp: number): boolean {
  return cp >= 0xe0020 && cp <= 0xe007f;
}

/** The code point as a visible marker, e.g. `[U+202E]`. */
export function marker(cp: number): string {
  return `[U+${cp.toString(16).toUpperCase().padStart(4, '0')}]`;
}

/**
 * Splits text into code points and says, for each, whether it is shown as a marker. Emoji sequences are
 * left alone: a zero-width joiner between two pictographs (family emoji) and the tag characters of a
 * subdivision flag (England, Scotland, Wales) after U+1F3F4 are how those emoji are written.
 */
export function codePoints(text: string): Array<{ ch: string; cp: number; hidden: boolean }> {
  const chars = Array.from(text);
  const out: Array<{ ch: string; cp: number; hidden: boolean }> = [];
  let inFlagTags = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const cp = ch.codePointAt(0)!;
    let hidden = CANDIDATE.test(ch);
    if (cp === 0x09 || cp === 0x0a) hidden = false;
    else if (cp === 0x0d && chars[i + 1] === '\n') hidden = false;
    else if (cp === ZWJ && PICTOGRAPHIC.test(previousBase(chars, i)) && PICTOGRAPHIC.test(chars[i + 1] ?? '')) hidden = false;
    else if (isTag(cp) && inFlagTags) hidden = false;
    // A subdivision flag is U+1F3F4, tags, then U+E007F (cancel tag), which ends it.
    if (cp === BLACK_FLAG) inFlagTags = true;
    else if (!isTag(cp) || cp === 0xe007f) inFlagTags = false;
    out.push({ ch, cp, hidden });
  }
  return out;
}

/** The pictograph before position i, skipping the variation selector and skin-tone modifier. */
function previousBase(chars: string[], i: number): string {
  for (let j = i - 1; j >= 0 && j >= i - 3; j--) {
    const cp = chars[j]!.codePointAt(0)!;
    if (cp === 0xfe0f || (cp >= 0x1f3fb && cp <= 0x1f3ff)) continue;
    return chars[j]!;
  }
  return '';
}

export interface Revealed {
  text: string;
  /** How many characters were made visible. */
  count: number;
  /** The distinct markers, in order of first appearance (for a warning line). */
  markers: string[];
}

/** Replaces every hidden character by its marker. */
export function revealInvisible(text: string): Revealed {
  let out = '';
  let count = 0;
  const markers: string[] = [];
  for (const c of codePoints(text)) {
    if (!c.hidden) {
      out += c.ch;
      continue;
    }
    const m = marker(c.cp);
    out += m;
    count += 1;
    if (!markers.includes(m)) markers.push(m);
  }
  return { text: out, count, markers };
}

/** How many hidden characters the texts hold, and which (for the card's warning). */
export function findInvisible(...texts: Array<string | undefined>): { count: number; markers: string[] } {
  let count = 0;
  const markers: string[] = [];
  for (const t of texts) {
    if (!t) continue;
    const r = revealInvisible(t);
    count += r.count;
    for (const m of r.markers) if (!markers.includes(m)) markers.push(m);
  }
  return { count, markers };
}
