import { escapeText } from './units.js';

/**
 * Links are where a message can lie most easily: `<https://evil|https://acme>` shows one address and
 * opens another. Untrusted text never gets a label: a link is shown as its own target, and a label that
 * differs is kept as plain words next to the target (or dropped when it looks like an address itself).
 */

const SCHEMES = ['http:', 'https:', 'mailto:'];

/** The URL, normalised, when it is safe to write as a Slack link; undefined otherwise. */
export function safeUrl(candidate: string): string | undefined {
  const text = candidate.trim();
  // Characters that end or split a Slack link, and anything invisible or blank, never go inside one.
  if (!text || /[\s<>|"`\p{Cc}\p{Cf}\u2028\u2029]/u.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (!SCHEMES.includes(url.protocol)) return undefined;
  if (url.protocol !== 'mailto:' && !url.hostname) return undefined;
  // The original spelling is kept (what the reader sees is what the author wrote) once it parsed.
  return text;
}

/** True when a label reads as an address itself (a URL, www.…, an email, a dotted host name). */
export function looksLikeAddress(label: string): boolean {
  const t = label.trim().toLowerCase();
  if (/^[a-z][a-z0-9+.-]*:/.test(t) || t.startsWith('www.')) return true;
  // A single word with a dot in it reads as a host or an email ("acme.com/pay", "billing@acme.com").
  return !/\s/.test(t) && /^[^.]+(\.[^.]+)+$/.test(t.replace(/\/.*$/, ''));
}

function sameTarget(label: string, url: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase().replace(/^mailto:/, '').replace(/^https?:\/\//, '').replace(/\/+$/, '');
  return norm(label) === norm(url);
}

/** `<url>` with the URL escaped the way Slack expects inside a link. */
export function bareLink(url: string): string {
  return `<${url.replace(/&/g, '&amp;')}>`;
}

/**
 * A link as an honest reader would want it: the real target always visible. Returns escaped mrkdwn text,
 * or undefined when the URL is not one a link may point to (callers then show the source text as is).
 */
export function honestLink(url: string, label: string | undefined): string | undefined {
  const target = safeUrl(url);
  if (!target) return undefined;
  if (label === undefined || label.trim() === '' || sameTarget(label, target) || looksLikeAddress(label)) return bareLink(target);
  return `${escapeText(label.trim())} (${bareLink(target)})`;
}
