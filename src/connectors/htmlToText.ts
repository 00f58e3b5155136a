/**
 * Reduces an HTML page to readable text for the model. A small linear scanner rather than a parser
 * dependency: we only need the words and rough line structure, and a scanner cannot be made to backtrack
 * catastrophically by a hostile page.
 */

/** Elements whose content is never readable text (code, styling, metadata, embedded documents). */
const DROPPED = new Set([
  'script',
  'style',
  'noscript',
  'svg',
  'math',
  'head',
  'title', // returned separately, so it must not be repeated in the body text
  'template',
  'iframe',
  'object',
  'canvas',
  'select',
]);

/** Elements that end a line in the rendered page. */
const LINE_BLOCKS = new Set([
  'body', 'dd', 'details', 'div', 'dt', 'figcaption', 'form', 'html', 'li', 'main', 'nav', 'summary', 'tr',
]);

/** Elements that stand apart as paragraphs (a blank line around them). */
const PARAGRAPH_BLOCKS = new Set([
  'address', 'article', 'aside', 'blockquote', 'dl', 'fieldset', 'figure', 'footer', 'h1', 'h2', 'h3', 'h4',
  'h5', 'h6', 'header', 'hr', 'ol', 'p', 'pre', 'section', 'table', 'ul',
]);

/** Table cells stay on their row but must not run into each other. */
const CELLS = new Set(['td', 'th']);

// A Map, not an object literal: "&constructor;" must not find Object.prototype members.
const NAMED_ENTITIES = new Map<string, string>(Object.entries({
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  middot: '·',
  bull: '•',
  euro: '€',
  pound: '£',
  deg: '°',
  times: '×',
}));

export function htmlToText(html: string): { title?: string; text: string } {
  let title: string | undefined;
  const parts: string[] = [];
  // Breaks are held back until the next text, so "</li><li>" gives one line break and not two, and
  // breaks at the very start or end vanish. 1 = new line, 2 = blank line.
  let pendingBreak = 0;
  const pushText = (raw: string) => {
    const text = textChunk(raw);
    if (text.trim() === '') {
      if (pendingBreak === 0) parts.push(text);
      return;
    }
    if (pendingBreak > 0 && parts.length > 0) parts.push(pendingBreak === 1 ? '\n' : '\n\n');
    pendingBreak = 0;
    parts.push(text);
  };
  const n = html.length;
  let i = 0;

  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      pushText(html.slice(i));
      break;
    }
    if (lt > i) pushText(html.slice(i, lt));

    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? n : end + 3;
      continue;
    }

    const next = html.charAt(lt + 1);
    if (next === '!' || next === '?') {
      // Doctype, CDATA or processing instruction: no readable text.
      const end = html.indexOf('>', lt);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (!/[a-zA-Z/]/.test(next)) {
      // A bare "<" in text (e.g. "a < b") is text, as browsers treat it.
      pushText('<');
      i = lt + 1;
      continue;
    }

    const end = findTagEnd(html, lt + 1);
    const inner = html.slice(lt + 1, end);
    i = end === n ? n : end + 1;
    const match = /^(\/?)\s*([a-zA-Z][a-zA-Z0-9-]*)/.exec(inner);
    if (!match) continue;
    const closing = match[1] === '/';
    const name = (match[2] ?? '').toLowerCase();

    if (!closing && DROPPED.has(name) && !inner.endsWith('/')) {
      const close = findClosingTag(html, name, i);
      if (close) {
        // The page title lives in <head>, which is dropped; an <svg> title is never the page's.
        if (name === 'title') title ??= cleanTitle(html.slice(i, close.start));
        if (name === 'head') title ??= titleIn(html.slice(i, close.start));
        i = close.after;
      } else if (name !== 'head') {
        // An unclosed script or style swallows the rest of the page in a browser too.
        i = n;
      }
      // `</head>` may legally be omitted; then its children are handled one by one instead.
      pendingBreak = Math.max(pendingBreak, 1);
      continue;
    }
    if (name === 'br') pendingBreak = Math.min(2, pendingBreak + 1);
    else if (PARAGRAPH_BLOCKS.has(name)) pendingBreak = 2;
    else if (LINE_BLOCKS.has(name)) pendingBreak = Math.max(pendingBreak, 1);
    else if (CELLS.has(name)) pushText(' ');
  }

  const text = tidy(parts.join(''));
  return title ? { title, text } : { text };
}

/** Decodes the common named entities and all numeric ones, in one pass so "&amp;lt;" stays "&lt;". */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (whole, body: string) => {
    if (body.startsWith('#')) {
      const hex = body[1] === 'x' || body[1] === 'X';
      const code = Number.parseInt(body.slice(hex ? 2 : 1), hex ? 16 : 10);
      const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
      return valid ? String.fromCodePoint(code) : '\ufffd';
    }
    return NAMED_ENTITIES.get(body) ?? whole;
  });
}

function titleIn(head: string): string | undefined {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(head);
  return match ? cleanTitle(match[1] ?? '') : undefined;
}

function cleanTitle(raw: string): string | undefined {
  return tidy(textChunk(raw)).replace(/\n+/g, ' ') || undefined;
}

/** Source whitespace (newlines included) is not layout in HTML: collapse it before decoding entities. */
function textChunk(raw: string): string {
  return decodeEntities(raw.replace(/\s+/g, ' '));
}

/** Index of the ">" ending a tag that starts at `from`, skipping quoted attribute values. */
function findTagEnd(html: string, from: number): number {
  let quote: string | null = null;
  for (let j = from; j < html.length; j++) {
    const c = html.charAt(j);
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return j;
    }
  }
  return html.length;
}

function findClosingTag(html: string, name: string, from: number): { start: number; after: number } | null {
  const re = new RegExp(`</${name}(?=[\\s/>])`, 'gi');
  re.lastIndex = from;
  const match = re.exec(html);
  if (!match) return null;
  const end = html.indexOf('>', match.index);
  return { start: match.index, after: end === -1 ? html.length : end + 1 };
}

function tidy(text: string): string {
  return text
    .replace(/\u00a0/g, ' ')
    .split('\n')
    .map((line) => line.replace(/[ \t\f\v\r]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
