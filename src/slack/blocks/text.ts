import { Mrkdwn } from '../../text/mrkdwn.js';
import { revealInvisible } from '../../text/invisible.js';

/** Block Kit text helpers. Limits come from Slack's docs (see platform notes). */
export const LIMITS = {
  sectionText: 3000,
  headerText: 150,
  buttonValue: 2000,
  modalBlocks: 100,
  /** Slack has been reported to refuse messages whose blocks hold more than ~13k characters in total. */
  messageText: 12_500,
} as const;

/**
 * Text for a block: a `Mrkdwn` built by the safe layer, or (legacy) mrkdwn the app wrote itself. Untrusted
 * text must arrive as `Mrkdwn` (see src/text/mrkdwn.ts); a plain string is passed through as written.
 */
export type BlockText = Mrkdwn | string;

function valueOf(text: BlockText): string {
  return text instanceof Mrkdwn ? text.value : text;
}

/** Plain text cut to `max` characters (for plain_text objects and logs; mrkdwn uses `clipMrkdwn`). */
export function truncate(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  return { text: `${text.slice(0, Math.max(0, max - 1))}…`, truncated: true };
}

/**
 * Cuts mrkdwn to `max` characters without leaving half a link, mention or entity behind (which Slack would
 * show as broken markup). Callers size untrusted parts beforehand; this is the last guard.
 */
export function clipMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  const open = cut.lastIndexOf('<');
  if (open > cut.lastIndexOf('>')) cut = cut.slice(0, open);
  const amp = cut.lastIndexOf('&');
  if (amp !== -1 && amp > cut.lastIndexOf(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

/**
 * A mrkdwn text object. `verbatim: true` stops Slack from turning words such as `#general` or `@here` in
 * the text into references or from auto-linking: only the app's own explicit `<...>` sequences are parsed.
 */
export function mrkdwn(text: BlockText, max: number = LIMITS.sectionText): { type: 'mrkdwn'; text: string; verbatim: true } {
  const value = clipMrkdwn(valueOf(text), max);
  return { type: 'mrkdwn', text: value.length > 0 ? value : ' ', verbatim: true };
}

/** A plain_text object (headers, button labels): Slack does not parse it, but hidden characters are shown. */
export function plainText(text: string, max: number): { type: 'plain_text'; text: string } {
  const shown = truncate(revealInvisible(text).text, max).text;
  return { type: 'plain_text', text: shown.trim().length > 0 ? shown : '-' };
}

export function section(text: BlockText): Record<string, unknown> {
  return { type: 'section', text: mrkdwn(text) };
}

export function context(text: BlockText): Record<string, unknown> {
  return { type: 'context', elements: [mrkdwn(text)] };
}

/** A message's top-level `text` (notifications, screen readers): mrkdwn, one line where possible. */
export function fallbackText(text: BlockText, max = 3000): string {
  return clipMrkdwn(valueOf(text), max);
}

/** Shows a timestamp in each reader's own time zone, with a UTC fallback. */
export { slackDateText as slackDate } from '../../agent/text.js';

export function usd(n: number): string {
  return `$${n.toFixed(n < 1 ? 4 : 2)}`;
}

/** " (prompt caching saved $x)", or what it cost when nothing was read back; nothing when negligible. */
export function cachingNote(savedUsd: number): string {
  if (Math.abs(savedUsd) < 0.00005) return '';
  return savedUsd > 0 ? ` (prompt caching saved ${usd(savedUsd)})` : ` (prompt caching cost ${usd(-savedUsd)} more)`;
}

