import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toFtsQuery, type KnowledgeIndex } from '../../src/connectors/knowledgeIndex.js';
import { openKnowledgeIndex } from '../../src/connectors/openKnowledgeIndex.js';
import type { OpenedDatabase } from '../../src/db/connection.js';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/testDatabase.js';

// Runs against the engine of the vitest project: SQLite's FTS5 or Postgres' tsvector, same expectations.
let tmp: string;
let kdir: string;
let testDb: TestDatabase;
let opened: OpenedDatabase;
let index: KnowledgeIndex;

function write(rel: string, content: string | Buffer): void {
  const file = path.join(kdir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-index-'));
  kdir = path.join(tmp, 'knowledge');
  fs.mkdirSync(kdir);
  testDb = await createTestDatabase(tmp);
  opened = testDb.open();
  index = await openKnowledgeIndex(opened);
});

afterEach(async () => {
  await opened.db.destroy();
  await testDb.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('reindex', () => {
  it('indexes Markdown and text files in nested folders and ignores other files', async () => {
    write('refunds.md', '# Refund policy\n\nCustomers get a refund within 30 days.\n');
    write('notes.markdown', 'Intro line\n\n## Shipping times\n\nWe ship in two days.\n');
    write('faq.txt', 'Plain text about invoices.\n');
    write('teams/sales/playbook.md', '# Sales playbook\n\nQualify every lead.\n');
    write('image.png', 'refund refund refund');
    write('data.json', '{"refund": true}');
    write('.hidden.md', '# Hidden refund\n');
    write('.git/HEAD.md', '# refund\n');
    write('node_modules/pkg/README.md', '# refund package\n');

    const result = await index.reindex(kdir);

    expect(result).toEqual({ files: 4, skipped: [] });
    expect(await index.count()).toBe(4);
    const paths = (await index.search('refund invoices shipping qualify', 10)).map((h) => h.path);
    expect(paths.sort()).toEqual(['faq.txt', 'notes.markdown', 'refunds.md', 'teams/sales/playbook.md']);
  });

  it('titles a document by its first heading, else by its file name', async () => {
    write('a.md', '```\n# not a heading\n```\n\n### Real title ###\n\nbody alpha\n');
    write('no-heading.md', 'just body alpha\n');
    write('plain.txt', '# comment, not a title\nbody alpha\n');

    await index.reindex(kdir);
    const titles = Object.fromEntries((await index.search('alpha', 10)).map((h) => [h.path, h.title]));

    expect(titles).toEqual({ 'a.md': 'Real title', 'no-heading.md': 'no-heading', 'plain.txt': 'plain' });
  });

  it('skips files larger than 2 MB and reports them', async () => {
    write('small.md', '# Small\n\nzebra\n');
    write('big/huge.md', `# Huge\n\nzebra ${'x'.repeat(2 * 1024 * 1024)}`);
    write('binary.txt', Buffer.from([0x7a, 0x65, 0x62, 0x72, 0x61, 0x00, 0x01]));

    const result = await index.reindex(kdir);

    expect(result.files).toBe(1);
    expect(result.skipped.sort()).toEqual(['big/huge.md', 'binary.txt']);
    expect((await index.search('zebra')).map((h) => h.path)).toEqual(['small.md']);
  });

  it.runIf(TEST_ENGINE === 'postgres')('skips and reports a file under 2 MB whose index entry exceeds Postgres\' 1 MB tsvector limit', async () => {
    // ~140k distinct words in ~1.3 MB of text: fine for FTS5, too many lexemes for one tsvector.
    const words = Array.from({ length: 140_000 }, (_, i) => `w${i.toString(36)}x`).join(' ');
    write('small.md', '# Small\n\nzebra\n');
    write('wordlist.txt', `zebra ${words}`);

    const result = await index.reindex(kdir);

    expect(result).toEqual({ files: 1, skipped: ['wordlist.txt'] });
    expect((await index.search('zebra')).map((h) => h.path)).toEqual(['small.md']);
  });

  it('drops deleted files and picks up changes on reindex', async () => {
    write('keep.md', '# Keep\n\nmango\n');
    write('gone.md', '# Gone\n\nmango papaya\n');
    await index.reindex(kdir);
    expect((await index.search('papaya')).map((h) => h.path)).toEqual(['gone.md']);

    fs.rmSync(path.join(kdir, 'gone.md'));
    write('keep.md', '# Keep\n\nmango kiwi\n');
    const result = await index.reindex(kdir);

    expect(result.files).toBe(1);
    expect(await index.count()).toBe(1);
    expect(await index.search('papaya')).toEqual([]);
    expect((await index.search('kiwi')).map((h) => h.path)).toEqual(['keep.md']);
  });

  it('indexes zero files from a missing directory, emptying the index', async () => {
    write('a.md', '# A\n\nsomething\n');
    await index.reindex(kdir);
    expect(await index.count()).toBe(1);

    const result = await index.reindex(path.join(tmp, 'does-not-exist'));

    expect(result).toEqual({ files: 0, skipped: [] });
    expect(await index.count()).toBe(0);
  });

  it(`keeps the index across connections (it lives in the ${TEST_ENGINE} database)`, async () => {
    write('a.md', '# A\n\npersistent words\n');
    await index.reindex(kdir);
    await opened.db.destroy();

    opened = testDb.open();
    index = await openKnowledgeIndex(opened);
    expect(await index.count()).toBe(1);
    expect((await index.search('persistent'))[0]?.path).toBe('a.md');
  });
});

describe('search', () => {
  beforeEach(async () => {
    write('expenses.md', '# Travel expenses\n\nBook flights through the portal. Hotels up to 200 EUR a night.\n');
    write(
      'handbook.md',
      '# Employee handbook\n\nVacation, sick leave and benefits. For travel, see the expenses page. ' +
        'Remote work is allowed two days a week.\n',
    );
    write('security.txt', 'Rotate passwords every 90 days. Report phishing to security@example.com.\n');
    await index.reindex(kdir);
  });

  it('ranks a document whose title matches first', async () => {
    const hits = await index.search('travel');
    expect(hits.map((h) => h.path)).toEqual(['expenses.md', 'handbook.md']);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });

  it('returns snippets with the matched term marked', async () => {
    const [hit] = await index.search('phishing');
    expect(hit).toMatchObject({ path: 'security.txt', title: 'security' });
    expect(hit!.snippet).toContain('**phishing**');
    expect(hit!.snippet).not.toMatch(/\n/);
  });

  it('does not double the markers when the match is already bold in the document', async () => {
    write('bold.md', '# Bold\n\nClick **Approve** to continue.\n');
    await index.reindex(kdir);
    const [hit] = await index.search('approve');
    expect(hit!.snippet).toContain('Click **Approve** to continue');
    expect(hit!.snippet).not.toContain('***');
  });

  it('matches stemmed forms and any of the terms', async () => {
    expect((await index.search('rotating password')).map((h) => h.path)).toEqual(['security.txt']);
    expect((await index.search('hotels phishing')).map((h) => h.path).sort()).toEqual(['expenses.md', 'security.txt']);
  });

  it('ignores stopwords unless nothing else is left', async () => {
    expect((await index.search('what is the vacation policy')).map((h) => h.path)).toEqual(['handbook.md']);
    expect((await index.search('the')).length).toBeGreaterThan(0);
  });

  it('respects the limit', async () => {
    expect(await index.search('travel', 1)).toHaveLength(1);
  });

  it('returns nothing for an empty query or one with no words', async () => {
    expect(await index.search('')).toEqual([]);
    expect(await index.search('   ')).toEqual([]);
    expect(await index.search('"*()^-:')).toEqual([]);
  });

  it('never throws on hostile queries', async () => {
    const hostile = [
      'foo" OR',
      '"',
      '""',
      'NEAR(',
      'NEAR(travel expenses, 2)',
      '*',
      'trav*',
      '-travel',
      '^travel',
      'title:travel',
      '{title body}: travel',
      'travel AND',
      'OR OR OR',
      'NOT',
      '(travel',
      'travel)',
      "'; DROP TABLE knowledge_fts; --",
      'a + b',
      'ünïcödé 東京 emoji 🎉',
      'x'.repeat(5000),
      Array.from({ length: 500 }, (_, i) => `w${i}`).join(' '),
    ];
    for (const q of hostile) {
      await expect(index.search(q), q).resolves.toBeInstanceOf(Array);
    }
    // Operators become plain words: the column filter still finds the word it wrapped.
    expect((await index.search('title:travel')).map((h) => h.path)).toContain('expenses.md');
    expect(await index.count()).toBe(3);
  });
});

describe('toFtsQuery', () => {
  it('quotes and ORs terms, stripping FTS syntax', async () => {
    expect(toFtsQuery('foo" OR bar*')).toBe('"foo" OR "bar"');
    expect(toFtsQuery('NEAR(a b)')).toBe('"near" OR "b"');
    expect(toFtsQuery('title:x -y ^z')).toBe('"title" OR "x" OR "y" OR "z"');
    expect(toFtsQuery('Travel travel TRAVEL')).toBe('"travel"');
    expect(toFtsQuery(' -*" ')).toBeNull();
  });
});
