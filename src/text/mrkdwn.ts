import { slackDateText } from '../agent/text.js';
import { honestLink } from './links.js';
import { clipText, escapeText, fenced } from './units.js';

/**
 * The one way to build Slack mrkdwn that mixes the app's own words with untrusted text.
 *
 * Anything interpolated into `md` is untrusted: it is escaped (`&`, `<`, `>`) and its invisible characters
 * are shown (`[U+202E]`), so it can never become a mention, a broadcast (`<!channel>`), a link whose label
 * hides its target, or text that reads differently from what it is. Only values the app builds itself
 * from stored ids (`mention`, `channelRef`, `dateRef`) or another `Mrkdwn` pass through unchanged.
 * The result is a `Mrkdwn`, so a function that posts to Slack can demand safe text by its type.
 */
export class Mrkdwn {
  /** Use `md`, `trusted` or the builders below; the constructor is not for untrusted strings. */
  constructor(readonly value: string) {}
  get length(): number {
    return this.value.length;
  }
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

/** Escapes only the three characters Slack treats as control characters (no invisible-character markers). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export type MdValue = Mrkdwn | string | number | null | undefined;

function piece(v: MdValue): string {
  if (v instanceof Mrkdwn) return v.value;
  if (v === null || v === undefined) return '';
  return escapeText(String(v));
}

/** Tagged template: the literal parts are the app's own mrkdwn; every interpolation is escaped. */
export function md(strings: TemplateStringsArray, ...values: MdValue[]): Mrkdwn {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += piece(v) + (strings[i + 1] ?? '');
  });
  return new Mrkdwn(out);
}

/** Joins pieces (each escaped unless already Mrkdwn). */
export function joinMd(parts: MdValue[], separator: MdValue = ''): Mrkdwn {
  return new Mrkdwn(parts.map(piece).join(piece(separator)));
}

/** Text the app wrote itself (no untrusted part). */
export function trusted(text: string): Mrkdwn {
  return new Mrkdwn(text);
}

/** Untrusted text on its own. */
export function plain(text: string): Mrkdwn {
  return new Mrkdwn(escapeText(text));
}

/** Untrusted text, escaped and cut (with `…`) so that the escaped result has at most `max` characters. */
export function clipped(text: string, max: number): Mrkdwn {
  return new Mrkdwn(clipText(text, max).out);
}

/** Untrusted text shown exactly, in a code block (escaped too: Slack renders `<...>` inside fences). */
export function verbatimBlock(text: string): Mrkdwn {
  return new Mrkdwn(fenced(text));
}

/** Inline code for untrusted text (a tool name, a token someone typed). */
export function code(text: string): Mrkdwn {
  const inner = escapeText(text).replace(/`/g, "'");
  return new Mrkdwn(`\`${inner || ' '}\``);
}

const USER_ID = /^[UW][A-Z0-9_]{1,}$/;

/** A user mention built from a stored Slack id; anything that is not an id is shown escaped. */
export function mention(userId: string): Mrkdwn {
  return USER_ID.test(userId) ? new Mrkdwn(`<@${userId}>`) : md`${userId}`;
}

export function channelRef(channelId: string): Mrkdwn {
  return /^[CGD][A-Z0-9_]+$/.test(channelId) ? new Mrkdwn(`<#${channelId}>`) : md`${channelId}`;
}

/** A user group reference built from a stored id (shown as the group's handle). */
export function subteamRef(groupId: string): Mrkdwn {
  return /^S[A-Z0-9_]+$/.test(groupId) ? new Mrkdwn(`<!subteam^${groupId}>`) : md`${groupId}`;
}

/** A timestamp each reader sees in their own time zone. */
export function dateRef(iso: string): Mrkdwn {
  return Number.isNaN(Date.parse(iso)) ? md`${iso}` : new Mrkdwn(slackDateText(iso));
}

/** A link the app makes (e.g. a permalink) with an untrusted label: the target is never hidden. */
export function link(url: string, label?: string): Mrkdwn {
  return new Mrkdwn(honestLink(url, label) ?? escapeText(label ? `${label} (${url})` : url));
}

/**
 * Notes the app stored in mrkdwn-like form, such as "Rejected by <@U123>: <human note>" or "Cancelled by
 * <@U123>": everything is escaped, then plain user mentions (`<@U123>`, nothing else) are restored so the
 * reader sees who. Broadcasts, group pings, links and labelled mentions stay escaped.
 */
export function withUserMentions(text: string): Mrkdwn {
  return new Mrkdwn(escapeText(text).replace(/&lt;@([UW][A-Z0-9_]+)&gt;/g, '<@$1>'));
}

export function isMrkdwn(v: unknown): v is Mrkdwn {
  return v instanceof Mrkdwn;
}
