import { bareLink, honestLink, safeUrl } from './links.js';
import { Mrkdwn } from './mrkdwn.js';
import { escapeText, fenced } from './units.js';

/**
 * Text a model wrote (final answers, comments), for posting in a thread. A model steered by a web page can
 * write anything, so only plain formatting survives: bold, italics, strike-through, lists, quotes, inline
 * code and code blocks, and bare links shown as their own address. Everything else is escaped: no
 * `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`, `<!subteam^…>` or `<!date…>` ever reaches Slack as
 * markup, and a link whose label differs from its target shows the target.
 *
 * Common Markdown is translated so answers read well: `**bold**`, `~~strike~~`, `# Heading`, `- item`,
 * `[label](url)`.
 */
export function renderModelText(text: string, opts: { max?: number } = {}): Mrkdwn {
  const full = render(text);
  if (opts.max === undefined || full.length <= opts.max) return new Mrkdwn(full);
  // Cut the source (never the rendered markup, which could split a link or an entity) until it fits.
  const max = opts.max;
  let keep = Math.min(text.length, max);
  for (let i = 0; i < 12 && keep > 0; i++) {
    const note = `… _(cut: ${text.length - keep} more characters)_`;
    const out = render(text.slice(0, keep)) + note;
    if (out.length <= max) return new Mrkdwn(out);
    keep = Math.floor(keep * Math.min(0.95, max / out.length));
  }
  return new Mrkdwn(`_(an answer of ${text.length} characters was too long to show)_`);
}

const FENCE = /```([\s\S]*?)```/g;

function render(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(FENCE)) {
    out += renderLines(text.slice(last, m.index));
    // A language tag on the opening line (```ts) is not part of the code.
    const body = (m[1] ?? '').replace(/^[A-Za-z0-9+#.-]{1,20}\n/, '').replace(/^\n/, '').replace(/\n$/, '');
    out += fenced(body);
    last = m.index + m[0].length;
  }
  out += renderLines(text.slice(last));
  return out;
}

function renderLines(segment: string): string {
  return segment
    .split('\n')
    .map((line) => {
      const heading = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
      if (heading) return `*${renderInline(heading[1]!.replace(/\*\*/g, ''))}*`;
      const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
      if (bullet) return `${bullet[1]}• ${renderInline(bullet[2]!)}`;
      const quote = /^\s{0,3}>\s?(.*)$/.exec(line);
      // A quote is layout, so it keeps its marker; the quoted words are escaped like any other.
      if (quote) return `> ${renderInline(quote[1]!)}`;
      return renderInline(line);
    })
    .join('\n');
}

// One pass over a line: inline code, Markdown links, Slack's <...> sequences, bare URLs; the rest is text.
const INLINE = /`([^`\n]+)`|\[([^\]\n]{0,500})\]\(\s*<?([^)\s>]+)>?\s*\)|<([^<>\n]{1,3000})>|((?:https?:\/\/|mailto:)[^\s<>"|`]+)/g;

function renderInline(line: string): string {
  const text = line.replace(/\*\*(?=\S)([^*\n]+?)\*\*/g, '*$1*').replace(/~~(?=\S)([^~\n]+?)~~/g, '~$1~');
  let out = '';
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    out += escapeText(text.slice(last, m.index));
    last = m.index + m[0].length;
    const [whole, codeSpan, mdLabel, mdUrl, angle, bare] = m;
    if (codeSpan !== undefined) {
      out += `\`${escapeText(codeSpan)}\``;
    } else if (mdUrl !== undefined) {
      out += honestLink(mdUrl, mdLabel) ?? escapeText(whole);
    } else if (angle !== undefined) {
      out += slackSequence(angle) ?? escapeText(whole);
    } else if (bare !== undefined) {
      const { url, trail } = trimUrl(bare);
      const target = safeUrl(url);
      out += target ? bareLink(target) + escapeText(trail) : escapeText(bare);
    }
  }
  return out + escapeText(text.slice(last));
}

/** `<https://x|label>` or `<https://x>` become honest links; mentions, broadcasts and the rest stay text. */
function slackSequence(inner: string): string | undefined {
  const bar = inner.indexOf('|');
  const url = bar === -1 ? inner : inner.slice(0, bar);
  const label = bar === -1 ? undefined : inner.slice(bar + 1);
  if (!/^(https?:|mailto:)/i.test(url)) return undefined;
  return honestLink(url, label);
}

/** Sentence punctuation after a URL is not part of it (unless a bracket closes one opened inside it). */
function trimUrl(candidate: string): { url: string; trail: string } {
  let url = candidate;
  let trail = '';
  for (;;) {
    const ch = url.at(-1);
    if (!ch) break;
    const unbalanced = ch === ')' && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0);
    if ('.,;:!?\'"'.includes(ch) || unbalanced || ch === ']' || ch === '}') {
      trail = ch + trail;
      url = url.slice(0, -1);
      continue;
    }
    break;
  }
  return { url, trail };
}
