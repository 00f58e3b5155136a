import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db, OpenedDatabase } from '../../src/db/connection.js';
import { MIGRATIONS_DIR, migrateToLatest, migrationProvider } from '../../src/db/migrate.js';
import { appendActivity } from '../../src/db/repos/activity.js';
import { verifyActivityChain } from '../../src/db/repos/activityVerify.js';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/testDatabase.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

let tmp: string;
let testDb: TestDatabase;
let opened: OpenedDatabase;
let db: Db;
const extra: OpenedDatabase[] = [];

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chain-'));
  testDb = await createTestDatabase(tmp);
  opened = testDb.open();
  db = opened.db;
  await migrateToLatest(db);
});

afterEach(async () => {
  for (const o of extra.splice(0)) await o.db.destroy();
  await db.destroy();
  await testDb.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

let clock = Date.parse('2026-12-01T08:00:00.000Z');
const entry = (teamId: string, kind: string, detail: Record<string, unknown> = {}) => ({
  at: new Date((clock += 1000)).toISOString(),
  teamId,
  runId: 'r-abcdef',
  actor: 'U1',
  kind,
  detail,
});

async function seed(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await appendActivity(db, entry('T1', 'approved', { tool: 'create_subtask', i }));
    await appendActivity(db, entry('T2', 'rejected', { tool: 'send_email', note: `n${i}` }));
  }
}

const rowsOf = (team: string) => db.selectFrom('activity').selectAll().where('team_id', '=', team).orderBy('seq').execute();

/** `npm run export-audit -- --verify` as a real child process (through tsx, as the app's tests start it). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/export-audit.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...testDb.env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe(`the activity hash chain on ${TEST_ENGINE}`, () => {
  it('chains each workspace on its own, from position 1, and an untouched log verifies (CLI exit 0 with a summary)', async () => {
    await seed();
    const t1 = await rowsOf('T1');
    expect(t1.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(t1.every((r) => /^[0-9a-f]{64}$/.test(r.hash ?? ''))).toBe(true);
    const head = await db.selectFrom('activity_chain').selectAll().where('team_id', '=', 'T1').executeTakeFirstOrThrow();
    expect(head).toEqual({ team_id: 'T1', seq: 5, hash: t1[4]!.hash });

    const report = await verifyActivityChain(db);
    expect(report).toMatchObject({ ok: true, rows: 10 });
    const out = await cli('--verify');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('verified: 10 rows in 2 workspace chains, all intact');
    expect(out.stdout).toContain(`ok T1: 5 rows, head 5 ${head.hash}`);
    expect(out.stderr).not.toContain('BROKEN');
  });

  it('a row edited in the database (UPDATE via SQL) is detected and named, by the CLI too (exit 1)', async () => {
    await seed();
    const victim = (await rowsOf('T1'))[2]!;
    await sql`update activity set detail_json = ${'{"tool":"send_email","i":2}'} where id = ${victim.id}`.execute(db);

    const report = await verifyActivityChain(db);
    expect(report.ok).toBe(false);
    expect(report.teams.find((t) => t.teamId === 'T2')?.broken).toBeUndefined();
    expect(report.teams.find((t) => t.teamId === 'T1')?.broken).toMatchObject({ rowId: victim.id, seq: 3, problem: 'hash_mismatch' });

    const out = await cli('--verify');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`BROKEN row ${victim.id} (workspace T1, position 3): hash_mismatch`);
    expect(out.stderr).toContain('1 of 2 workspace chains are broken');
    expect(out.stdout).toContain('ok T2: 5 rows');

    // Rows appended afterwards chain onto the edited row's stored hash: the edit stays visible.
    await appendActivity(db, entry('T1', 'later'));
    expect((await verifyActivityChain(db, { teamId: 'T1' })).teams[0]!.broken).toMatchObject({ rowId: victim.id, problem: 'hash_mismatch' });
  });

  it('an edit that also rewrites the row hash is caught at the next row', async () => {
    await seed();
    const rows = await rowsOf('T1');
    await sql`update activity set actor = ${'U_OTHER'}, hash = ${'f'.repeat(64)} where id = ${rows[1]!.id}`.execute(db);
    const broken = (await verifyActivityChain(db, { teamId: 'T1' })).teams[0]!.broken;
    // Row 2's own hash no longer matches its contents either way.
    expect(broken).toMatchObject({ rowId: rows[1]!.id, problem: 'hash_mismatch' });
  });

  it('a deleted row is detected: in the middle (the next row names the gap) and at the end (against the head)', async () => {
    await seed();
    const rows = await rowsOf('T1');
    await sql`delete from activity where id = ${rows[1]!.id}`.execute(db);
    expect((await verifyActivityChain(db)).teams.find((t) => t.teamId === 'T1')!.broken).toMatchObject({
      rowId: rows[2]!.id,
      seq: 3,
      problem: 'missing_rows',
      message: expect.stringContaining('position 2 is missing'),
    });

    const t2 = await rowsOf('T2');
    await sql`delete from activity where id = ${t2[4]!.id}`.execute(db);
    const broken = (await verifyActivityChain(db, { teamId: 'T2' })).teams[0]!.broken;
    expect(broken).toMatchObject({ rowId: t2[3]!.id, seq: 4, problem: 'missing_rows', message: expect.stringContaining('after this row') });
    const out = await cli('--verify', '--team', 'T2');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`BROKEN row ${t2[3]!.id} (workspace T2, position 4): missing_rows`);
  });

  it('an inserted forged row is detected, with or without chain fields', async () => {
    await seed();
    const forged = { at: '2026-12-01T08:00:02.500Z', team_id: 'T1', run_id: 'r-abcdef', action_id: null, actor: 'U1', kind: 'approved', detail_json: '{"tool":"send_email"}' };
    const plain = await db.insertInto('activity').values(forged).returning('id').executeTakeFirstOrThrow();
    expect((await verifyActivityChain(db)).teams.find((t) => t.teamId === 'T1')!.broken).toMatchObject({ rowId: plain.id, seq: null, problem: 'unchained_row' });
    await db.deleteFrom('activity').where('id', '=', plain.id).execute();
    expect((await verifyActivityChain(db)).ok).toBe(true);

    // With the next position and a hash made up (or copied from the head), and the head moved to it.
    const head = await db.selectFrom('activity_chain').selectAll().where('team_id', '=', 'T1').executeTakeFirstOrThrow();
    const chained = await db.insertInto('activity').values({ ...forged, seq: 6, hash: head.hash }).returning('id').executeTakeFirstOrThrow();
    await db.updateTable('activity_chain').set({ seq: 6 }).where('team_id', '=', 'T1').execute();
    expect((await verifyActivityChain(db)).teams.find((t) => t.teamId === 'T1')!.broken).toMatchObject({ rowId: chained.id, seq: 6, problem: 'hash_mismatch' });
    const out = await cli('--verify');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`BROKEN row ${chained.id} (workspace T1, position 6): hash_mismatch`);
  });

  it('text an engine cannot store (NUL, lone surrogates) is stored and hashed in the form both read back', async () => {
    await appendActivity(db, entry('T1', 'note', { text: 'nul \u0000 and lone \ud800' }));
    await appendActivity(db, { ...entry('T1', 'k\u0000ind'), actor: 'U\ud800' });
    expect(await verifyActivityChain(db)).toMatchObject({ ok: true, rows: 2 });
    const second = (await rowsOf('T1'))[1]!;
    expect(second.kind).toBe('k\uFFFDind');
    expect(second.actor).toBe('U\uFFFD');
  });

  it('concurrent appends keep one valid chain: many parallel writers, a second connection pool and a second process', async () => {
    const other = testDb.open();
    extra.push(other);
    // Writers that each append one after another, many at once (bounded so that a pool of 10 connections
    // on a busy machine does not time out waiting for a free connection; the order between them is free).
    const writer = async (n: number, each: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < n; i++) await each(i);
    };
    const writes: Array<Promise<unknown>> = [];
    for (let w = 0; w < 6; w++) {
      writes.push(writer(10, (i) => appendActivity(db, entry('T1', 'parallel', { w, i }))));
      // Appends inside the callers' own transactions, as the approval and run code do.
      writes.push(
        writer(10, (i) =>
          db.transaction().execute(async (trx) => {
            await appendActivity(trx, entry('T1', 'in_transaction_a', { w, i }));
            await appendActivity(trx, entry('T2', 'in_transaction_b', { w, i }));
          }),
        ),
      );
      // A second pool: on Postgres, another instance's connections (on SQLite it queues on the same file).
      if (TEST_ENGINE === 'postgres') writes.push(writer(10, (i) => appendActivity(other.db, entry('T1', 'other_pool', { w, i }))));
    }
    const procs = [1, 2].map((n) =>
      run(process.execPath, ['--import', 'tsx', 'test/db/fixtures/appendMany.ts', 'T1', '40', `p${n}`], { cwd: ROOT, env: { ...process.env, ...testDb.env }, timeout: 90_000 }),
    );
    await Promise.all([...writes, ...procs]);

    const expectedT1 = 60 + 60 + (TEST_ENGINE === 'postgres' ? 60 : 0) + 80;
    const report = await verifyActivityChain(db);
    expect(report.teams.map((t) => t.broken)).toEqual([undefined, undefined]);
    expect(report.teams.find((t) => t.teamId === 'T1')).toMatchObject({ rows: expectedT1, headSeq: expectedT1 });
    expect(report.teams.find((t) => t.teamId === 'T2')).toMatchObject({ rows: 60, headSeq: 60 });
    // Each transaction's two rows committed together and each workspace's positions are 1..n without gaps.
    const seqs = (await rowsOf('T1')).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: expectedT1 }, (_, i) => i + 1));
  }, 120_000);
});

describe(`rows written before the chain existed, on ${TEST_ENGINE}`, () => {
  let fresh: TestDatabase;
  let freshOpened: OpenedDatabase;
  afterEach(async () => {
    await freshOpened.db.destroy();
    await fresh.drop();
  });

  it('are chained by the migration in the order they were written, and the chain goes on from there', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'old-'));
    fresh = await createTestDatabase(dir, { empty: true });
    freshOpened = fresh.open();
    const before = fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((f) => /^\d+_[\w-]+\.(ts|js)$/.test(f))
      .map((f) => f.replace(/\.(ts|js)$/, ''))
      .sort()
      .filter((n) => n < '0011');
    const migrator = new Migrator({ db: freshOpened.db, provider: migrationProvider() });
    expect((await migrator.migrateTo(before.at(-1)!)).error).toBeUndefined();
    const old = (team: string, i: number) => ({ at: `2026-11-0${i + 1}T10:00:00.000Z`, team_id: team, run_id: null, action_id: null, actor: 'U1', kind: 'trust_changed', detail_json: JSON.stringify({ i }) });
    await sql`insert into activity (at, team_id, run_id, action_id, actor, kind, detail_json) values ${sql.join(
      [old('T1', 0), old('T2', 1), old('T1', 2), old('T1', 3)].map((r) => sql`(${r.at}, ${r.team_id}, ${r.run_id}, ${r.action_id}, ${r.actor}, ${r.kind}, ${r.detail_json})`),
    )}`.execute(freshOpened.db);

    await migrateToLatest(freshOpened.db);
    const t1 = await freshOpened.db.selectFrom('activity').selectAll().where('team_id', '=', 'T1').orderBy('id').execute();
    expect(t1.map((r) => [r.seq, JSON.parse(r.detail_json).i])).toEqual([[1, 0], [2, 2], [3, 3]]);
    expect(await verifyActivityChain(freshOpened.db)).toMatchObject({ ok: true, rows: 4 });

    await appendActivity(freshOpened.db, entry('T1', 'after_migration'));
    const report = await verifyActivityChain(freshOpened.db);
    expect(report.ok).toBe(true);
    expect(report.teams.find((t) => t.teamId === 'T1')).toMatchObject({ rows: 4, headSeq: 4 });
  });
});
