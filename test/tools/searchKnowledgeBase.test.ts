import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KnowledgeIndex } from '../../src/connectors/knowledgeIndex.js';
import { openKnowledgeIndex } from '../../src/connectors/openKnowledgeIndex.js';
import type { OpenedDatabase } from '../../src/db/connection.js';
import { createSearchKnowledgeBaseTool } from '../../src/tools/searchKnowledgeBase.js';
import type { ToolRunContext } from '../../src/tools/types.js';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/testDatabase.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

const ctx: ToolRunContext = {
  run: { id: 'r-abc123', teamId: 'T1', channelId: 'C1', threadTs: '1.1', requesterId: 'U1' },
  actionId: 'a1',
  prepared: {},
  approvedBy: null,
};

let tmp: string;
let kdir: string;
let testDb: TestDatabase;
let opened: OpenedDatabase;
let index: KnowledgeIndex;

function write(rel: string, content: string): void {
  const file = path.join(kdir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-tool-'));
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

describe('search_knowledge_base tool', () => {
  it('has the contract name and a description', () => {
    const tool = createSearchKnowledgeBaseTool(index);
    expect(tool.name).toBe('search_knowledge_base');
    expect(tool.description).toMatch(/knowledge base/i);
    expect(tool.hardFloor).toBeFalsy();
  });

  it('parses valid input (trimmed) and rejects invalid input', () => {
    const { inputSchema } = createSearchKnowledgeBaseTool(index);
    expect(inputSchema.parse({ query: '  refunds  ' })).toEqual({ query: 'refunds' });
    for (const bad of [{}, { query: '' }, { query: '   ' }, { query: 42 }, { query: 'x'.repeat(501) }, null]) {
      expect(inputSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('describes the call in plain words', () => {
    const tool = createSearchKnowledgeBaseTool(index);
    expect(tool.describe({ query: 'refund policy' }, {}).summary).toBe(
      'Search the knowledge base for "refund policy"',
    );
    expect(tool.describe({ query: 'y'.repeat(300) }, {}).summary.length).toBeLessThan(150);
  });

  it('lists matching documents with file, title and snippet under a data-not-instructions header', async () => {
    write('policies/refunds.md', '# Refund policy\n\nCustomers get a full refund within 30 days of purchase.\n');
    write('faq.txt', 'Questions about refund timing go to billing.\n');
    write('other.md', '# Office\n\nThe office opens at nine.\n');
    await index.reindex(kdir);
    const tool = createSearchKnowledgeBaseTool(index);

    const out = await tool.run({ query: 'refund' }, ctx);

    expect(out.isError).toBeFalsy();
    const lines = out.content.split('\n');
    expect(lines[0]).toMatch(/knowledge-base/i);
    expect(lines[0]).toMatch(/data, not .*instructions/i);
    expect(lines[0]).toContain('2 documents');
    expect(out.content).toContain('1. policies/refunds.md — Refund policy');
    expect(out.content).toContain('2. faq.txt — faq');
    expect(out.content).toContain('**refund**');
    expect(out.content).not.toContain('other.md');
  });

  it('shows at most 5 hits', async () => {
    for (let i = 0; i < 8; i++) write(`doc${i}.md`, `# Doc ${i}\n\nquarterly numbers ${i}\n`);
    await index.reindex(kdir);

    const out = await createSearchKnowledgeBaseTool(index).run({ query: 'quarterly' }, ctx);

    expect(out.content).toContain('5 documents');
    expect(out.content.match(/^\d+\. doc\d\.md/gm)).toHaveLength(5);
  });

  it('says clearly when nothing matched, without an error', async () => {
    write('a.md', '# A\n\napples\n');
    await index.reindex(kdir);
    const tool = createSearchKnowledgeBaseTool(index);

    const out = await tool.run({ query: 'zeppelin' }, ctx);
    expect(out).toEqual({ content: 'No documents matched "zeppelin" in the knowledge base.' });

    const hostile = await tool.run({ query: 'NEAR( " *' }, ctx);
    expect(hostile.isError).toBeFalsy();
    expect(hostile.content).toMatch(/^No documents matched/);
  });

  it('mentions an empty knowledge base', async () => {
    const out = await createSearchKnowledgeBaseTool(index).run({ query: 'anything' }, ctx);
    expect(out.content).toMatch(/^No documents matched "anything".*no documents indexed/);
  });
});

describe('scripts/index-knowledge.ts', () => {
  it('migrates, indexes the folder and reports skipped files', async () => {
    write('guide.md', '# Onboarding guide\n\nWelcome aboard.\n');
    write('nested/notes.txt', 'Onboarding notes.\n');
    write('nested/too-big.md', 'x'.repeat(2 * 1024 * 1024 + 1));
    write('ignored.pdf', 'onboarding');
    const scriptDb = await createTestDatabase(path.join(tmp, 'script'));

    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/index-knowledge.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...scriptDb.env, KNOWLEDGE_DIR: kdir },
    });

    expect(stdout).toContain(`Indexed 2 files from ${kdir}`);
    expect(stdout).toContain('nested/too-big.md');
    const check = scriptDb.open();
    try {
      const hits = await (await openKnowledgeIndex(check)).search('onboarding');
      expect(hits.map((h) => h.path).sort()).toEqual(['guide.md', 'nested/notes.txt']);
      // The script ran the migrations too, so the app can open the same database.
      const tables = (await check.db.introspection.getTables()).map((t) => t.name);
      expect(tables).toContain('runs');
    } finally {
      await check.db.destroy();
      await scriptDb.drop();
    }
  });

  it('indexes zero files from a missing folder and still exits 0', async () => {
    const missing = path.join(tmp, 'nope');
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/index-knowledge.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...testDb.env, KNOWLEDGE_DIR: missing },
    });
    expect(stdout).toContain(`Indexed 0 files from ${missing}`);
    expect(stderr).toContain('does not exist');
  });

  it.runIf(TEST_ENGINE === 'sqlite')('exits non-zero with a clear message when the database file cannot be opened', async () => {
    // A directory where the database file should be: SQLite cannot open it.
    const dbPath = path.join(tmp, 'is-a-dir');
    fs.mkdirSync(dbPath);
    const failed = run(process.execPath, ['--import', 'tsx', 'scripts/index-knowledge.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_PATH: dbPath, DATABASE_URL: '', KNOWLEDGE_DIR: kdir },
    });
    await expect(failed).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/index-knowledge failed \(DATABASE_PATH=.*is-a-dir.*\): unable to open/),
    });
  });

  it.runIf(TEST_ENGINE === 'postgres')('exits non-zero with a clear message, without the password, when the database is missing', async () => {
    const url = new URL(testDb.env['DATABASE_URL']!);
    url.pathname = '/no_such_database';
    url.password = 's3cret-pw';
    const failed = run(process.execPath, ['--import', 'tsx', 'scripts/index-knowledge.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url.toString(), KNOWLEDGE_DIR: kdir },
    });
    await expect(failed).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/index-knowledge failed \(DATABASE_URL=postgres:\/\/.*:\*\*\*@.*\/no_such_database.*\): .*database "no_such_database" does not exist/),
    });
    await expect(failed).rejects.toMatchObject({ stderr: expect.not.stringContaining('s3cret-pw') });
  });

  it.runIf(TEST_ENGINE === 'sqlite')('refuses a DATABASE_URL that is not a Postgres URL', async () => {
    const failed = run(process.execPath, ['--import', 'tsx', 'scripts/index-knowledge.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: 'mysql://localhost/agent', KNOWLEDGE_DIR: kdir },
    });
    await expect(failed).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/DATABASE_URL must be a postgres:\/\/.* URL/),
    });
  });
});
