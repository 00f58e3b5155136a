/**
 * The one way to build Slack mrkdwn that mixes the app's own words with untrusted text.
 *
 * Anything interpolated into `md` is untrusted and escaped (`&`, `<`, `>`), so it can never become a
 * mention, a broadcast (`<!channel>`) or a link whose label hides its target. Only values the app builds
 * itself from stored ids (`mention`, `channelRef`, `dateRef`) or another `Mrkdwn` pass through unchanged.
 * The result is a `Mrkdwn`, so a function that posts to Slack can demand safe text by its type.
 */
export class Mrkdwn {
  /** Use `md`, `trusted` or the builders below; the constructor is not for untrusted strings. */
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

/** Escapes the three characters Slack treats as control characters in mrkdwn and in `text` fields. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export type MdValue = Mrkdwn | string | number | null | undefined;

function piece(v: MdValue): string {
  if (v instanceof Mrkdwn) return v.value;
  if (v === null || v === undefined) return '';
  return escapeSlack(String(v));
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
export function joinMd(parts: MdValue[], separator = ''): Mrkdwn {
  return new Mrkdwn(parts.map(piece).join(separator));
}

/** Text the app wrote itself (no untrusted part). */
export function trusted(text: string): Mrkdwn {
  return new Mrkdwn(text);
}

const SLACK_ID = /^[A-Z0-9]{2,}$/;

/** A user mention built from a stored Slack id; anything that is not an id is shown escaped. */
export function mention(userId: string): Mrkdwn {
  return SLACK_ID.test(userId) || /^[UW][A-Z0-9_]+$/.test(userId) ? new Mrkdwn(`<@${userId}>`) : md`${userId}`;
}

export function channelRef(channelId: string): Mrkdwn {
  return /^[CGD][A-Z0-9_]+$/.test(channelId) ? new Mrkdwn(`<#${channelId}>`) : md`${channelId}`;
}
