import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../src/config.js';

// The docs are split over README.md and docs/*.md: a moved section must not leave a dead link behind, and
// every variable and command the code knows must stay documented somewhere a reader will look.

const ROOT = resolve(import.meta.dirname, '..');
const DOCS = join(ROOT, 'docs');
const docFiles = (): string[] => [join(ROOT, 'README.md'), ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => join(DOCS, f))];
const read = (file: string): string => readFileSync(file, 'utf8');

/** Lines outside fenced code blocks: a `# comment` in a shell block is not a heading, a `[x](y)` there not a link. */
function proseLines(text: string): string[] {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1]![0];
      else if (m[1]![0] === fence) fence = undefined;
      continue;
    }
    if (fence === undefined) out.push(line);
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(text)) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubSlug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Inline links' targets, outside code (fenced or inline). */
function linksOf(text: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) targets.push(m[1]!);
  }
  return targets;
}

/** Every relative link and anchor in `file` that does not resolve, as "file: target (why)". */
function brokenLinks(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const target of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
    const [path = '', anchor] = target.split('#', 2);
    const dest = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    const where = `${relative(ROOT, file)}: ${target}`;
    if (!existsSync(dest)) {
      problems.push(`${where} (no such file)`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!dest.endsWith('.md')) {
      problems.push(`${where} (an anchor into a file that is not Markdown)`);
      continue;
    }
    if (!anchorsOf(read(dest)).has(anchor)) problems.push(`${where} (no heading with that anchor in ${relative(ROOT, dest)})`);
  }
  return problems;
}

/** The text of one `## heading` section (up to the next heading of the same or a higher level). */
function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return '';
  const level = /^#+/.exec(heading)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+\s/.test(l) && /^#+/.exec(l)![0].length <= level);
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** The first cell of every table row. */
function firstCells(text: string): string[] {
  return proseLines(text)
    .filter((l) => /^\s*\|/.test(l))
    .map((l) => l.split(/(?<!\\)\|/)[1] ?? '');
}

describe('docs', () => {
  it('README links each docs file', () => {
    const readme = read(join(ROOT, 'README.md'));
    const linked = new Set(linksOf(readme).map((t) => t.split('#')[0]));
    const files = readdirSync(DOCS).filter((f) => f.endsWith('.md'));
    expect(files.length).toBeGreaterThanOrEqual(7);
    expect(files.filter((f) => !linked.has(`docs/${f}`))).toEqual([]);
  });

  it('every relative link and #anchor in README.md and docs/*.md resolves', () => {
    const files = docFiles();
    const all = files.flatMap((f) => linksOf(read(f)));
    // The check must have something to check: the docs cross-link heavily.
    expect(all.filter((t) => t.includes('#')).length).toBeGreaterThan(30);
    expect(files.flatMap((f) => brokenLinks(f, read(f)))).toEqual([]);
  });

  it('the link check catches a missing file, a missing anchor and a stale anchor after a move', () => {
    const readme = join(ROOT, 'README.md');
    const bad = [
      '[a](docs/nowhere.md)',
      '[b](docs/operations.md#no-such-heading)',
      '[c](#configure)', // was in README, now lives in docs/operations.md
      '`[d](not-a-link.md)` and [e](https://example.com) are fine',
    ].join('\n');
    expect(brokenLinks(readme, bad)).toEqual([
      'README.md: docs/nowhere.md (no such file)',
      'README.md: docs/operations.md#no-such-heading (no heading with that anchor in docs/operations.md)',
      'README.md: #configure (no heading with that anchor in README.md)',
    ]);
  });

  it('slugs headings the way GitHub does', () => {
    expect(githubSlug('Edit & approve')).toBe('edit--approve');
    expect(githubSlug("Slack's rate limits and the outbox")).toBe('slacks-rate-limits-and-the-outbox');
    expect(githubSlug('MCP servers (bring your own tools)')).toBe('mcp-servers-bring-your-own-tools');
    expect(githubSlug('Create the Slack app from manifest.json')).toBe('create-the-slack-app-from-manifestjson');
    expect([...anchorsOf('# A\n```sh\n# not a heading\n```\n## A\n### `auto_notify` B')]).toEqual(['a', 'a-1', 'auto_notify-b']);
  });

  it('every environment variable the config schema knows has a row in the configuration reference', () => {
    const names = Object.keys(envSchema.shape);
    expect(names.length).toBeGreaterThan(30);
    const reference = section(read(join(DOCS, 'operations.md')), '## Configure');
    expect(reference, 'docs/operations.md has a "## Configure" section').not.toBe('');
    const documented = new Set(firstCells(reference).flatMap((c) => [...c.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)));
    expect(names.filter((n) => !documented.has(n)), 'add a row to the table under "## Configure" in docs/operations.md').toEqual([]);
  });

  it('every /agent subcommand the parser and the command handlers know is in a command table', () => {
    const src = (p: string) => read(join(ROOT, 'src/slack', p));
    const top = [...src('commandParser.ts').matchAll(/case '([a-z][a-z-]*)':/g)].map((m) => m[1]!);
    expect(top.length).toBeGreaterThan(10);
    // Words the trust and tools handlers compare arguments with: `trust <action> approvers anyone`, ...
    const words = (file: string) => [...src(file).matchAll(/\b(?:first|second|on|rest\[0\]) === '([a-z][a-z-]*)'/g)].map((m) => m[1]!);
    const nested = { trust: words('listeners/commands/trust.ts'), tools: words('listeners/commands/tools.ts') };
    expect(nested.trust.length).toBeGreaterThan(8);
    expect(nested.tools).toEqual(expect.arrayContaining(['refresh', 'accept']));

    const guides = ['user-guide.md', 'admin-guide.md'].map((f) => read(join(DOCS, f))).join('\n');
    // Each backticked span in a table's first cell is one usage, e.g. `trust <action> mentions on\|off`.
    const usages = firstCells(guides).flatMap((c) => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\\\|/g, '|')));
    const firstWords = new Set(usages.map((u) => u.split(/\s+/)[0]));
    expect(top.filter((c) => !firstWords.has(c))).toEqual([]);
    for (const [command, list] of Object.entries(nested)) {
      const wordsUsed = new Set(usages.filter((u) => u.startsWith(`${command} `)).flatMap((u) => u.split(/[\s|]+/)));
      expect(list.filter((w) => !wordsUsed.has(w)), `/agent ${command} ...`).toEqual([]);
    }
  });
});
