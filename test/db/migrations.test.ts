import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Migrator, NO_MIGRATIONS, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OpenedDatabase } from '../../src/db/connection.js';
import { MIGRATIONS_DIR, migrateToLatest, migrationProvider } from '../../src/db/migrate.js';
import { appendActivity } from '../../src/db/repos/activity.js';
import { countPendingApprovals } from '../../src/db/repos/actions.js';
import { spendSince } from '../../src/db/repos/modelCalls.js';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/testDatabase.js';

// The column types a migration may use. Both engines then store and return the same JavaScript values:
// booleans as integers 0/1, JSON and timestamps (ISO-8601) as text, money as an 8-byte float (`real`
// becomes double precision on Postgres), ids from autoIncrement() as integers.
const PORTABLE_TYPES: Record<typeof TEST_ENGINE, string[]> = {
  sqlite: ['text', 'integer', 'real'],
  postgres: ['text', 'int4', 'float8'],
};
const NOT_APP_TABLES = /^(kysely_migration|knowledge_)/;

let tmp: string;
let testDb: TestDatabase;
let opened: OpenedDatabase;

beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
  testDb = await createTestDatabase(tmp, { empty: true });
  opened = testDb.open();
});

afterEach(async () => {
  await opened.db.destroy();
  await testDb.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const migrationFiles = () =>
  fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+_[\w-]+\.(ts|js)$/.test(f))
    .map((f) => f.replace(/\.(ts|js)$/, ''))
    .sort();

describe(`migrations on ${TEST_ENGINE}`, () => {
  it('apply every file in db/migrations to an empty database, once', async () => {
    expect(await migrateToLatest(opened.db)).toEqual(migrationFiles());
    expect(await migrateToLatest(opened.db)).toEqual([]);
    const tables = (await opened.db.introspection.getTables()).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['runs', 'run_messages', 'actions', 'activity', 'trust_settings', 'workspace_state', 'schedules', 'model_calls', 'processed_events']));
  });

  it('use only column types that behave the same on SQLite and Postgres', async () => {
    await migrateToLatest(opened.db);
    const odd: string[] = [];
    for (const table of await opened.db.introspection.getTables()) {
      if (NOT_APP_TABLES.test(table.name)) continue;
      for (const column of table.columns) {
        if (!PORTABLE_TYPES[TEST_ENGINE].includes(column.dataType.toLowerCase())) odd.push(`${table.name}.${column.name}: ${column.dataType}`);
      }
    }
    expect(odd, 'use text, integer or real (see docs/architecture.md, "Writing migrations")').toEqual([]);
  });

  it('can be rolled back to nothing and applied again', async () => {
    await migrateToLatest(opened.db);
    const down = await new Migrator({ db: opened.db, provider: migrationProvider() }).migrateTo(NO_MIGRATIONS);
    expect(down.error).toBeUndefined();
    const left = (await opened.db.introspection.getTables()).map((t) => t.name).filter((n) => !NOT_APP_TABLES.test(n));
    expect(left).toEqual([]);
    expect(await migrateToLatest(opened.db)).toEqual(migrationFiles());
  });
});

describe(`stored values round-trip the same on ${TEST_ENGINE}`, () => {
  beforeEach(async () => {
    await migrateToLatest(opened.db);
  });

  const run = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    team_id: 'T1',
    channel_id: 'C1',
    thread_ts: null,
    requester_id: 'U1',
    task: 'task',
    status: 'running' as const,
    model: 'm',
    spend_usd: 0,
    turns: 0,
    parent_run_id: null,
    extra_context: null,
    system_prompt: 's',
    tools_json: '[]',
    task_status: 'in_progress',
    subtasks_json: '[]',
    cost_cap_usd: null,
    max_turns: null,
    error_code: null,
    error_message: null,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    finished_at: null,
    ...extra,
  });

  it('money keeps full double precision (Postgres real would round it)', async () => {
    await opened.db.insertInto('runs').values(run('r-1', { spend_usd: 0.123456789012, cost_cap_usd: 1234.567891 })).execute();
    const row = await opened.db.selectFrom('runs').select(['spend_usd', 'cost_cap_usd', 'turns']).executeTakeFirstOrThrow();
    expect(row).toEqual({ spend_usd: 0.123456789012, cost_cap_usd: 1234.567891, turns: 0 });
  });

  it('autoIncrement ids are generated integers, ascending, and counts and sums are numbers', async () => {
    await opened.db.insertInto('runs').values(run('r-1')).execute();
    for (let i = 0; i < 3; i++) await appendActivity(opened.db, { at: `2026-01-01T00:00:0${i}.000Z`, teamId: 'T1', runId: 'r-1', actor: 'U1', kind: 'k' });
    const ids = (await opened.db.selectFrom('activity').select('id').orderBy('id').execute()).map((r) => r.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(3);

    const counted = await opened.db.selectFrom('activity').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(counted.n).toBe(3);
    const summed = await opened.db.selectFrom('activity').select((eb) => eb.fn.sum('id').as('s')).executeTakeFirstOrThrow();
    expect(typeof summed.s).toBe('number');
    expect(await countPendingApprovals(opened.db, 'T1')).toBe(0);
  });

  it('sums spend since an ISO timestamp (text comparison of ISO-8601 strings)', async () => {
    const call = (at: string, cost: number) => ({ run_id: 'r-1', team_id: 'T1', user_id: 'U1', model: 'm', input_tokens: 1, output_tokens: 1, cache_read_tokens: 0, cache_write_5m_tokens: 0, cache_write_1h_tokens: 0, cost_usd: cost, stop_reason: null, duration_ms: 1, at });
    await opened.db.insertInto('model_calls').values([call('2026-01-01T23:59:59.999Z', 1), call('2026-01-02T00:00:00.000Z', 0.25), call('2026-01-02T09:30:00.000Z', 0.125)]).execute();
    expect(await spendSince(opened.db, 'T1', '2026-01-02T00:00:00.000Z')).toBe(0.375);
    expect(await spendSince(opened.db, 'T1', '2026-01-02T00:00:00.000Z', 'U2')).toBe(0);
  });

  it('integer flags come back as 0/1 and text is stored byte for byte, case included', async () => {
    await opened.db.insertInto('workspace_state').values({ team_id: 'T1', paused: 1, disabled: 0, caps_json: '{"a":1}', settings_json: '{}', updated_at: 'x', paused_reason: 'Ünïcödé 東京 🎉 "quotes" \\ back' }).execute();
    const row = await opened.db.selectFrom('workspace_state').selectAll().executeTakeFirstOrThrow();
    expect(row.paused).toBe(1);
    expect(row.disabled).toBe(0);
    expect(row.paused_reason).toBe('Ünïcödé 東京 🎉 "quotes" \\ back');
    // Equality is case-sensitive on both engines (SQLite's LIKE is not, which is why the app never uses LIKE).
    const upper = await opened.db.selectFrom('workspace_state').select('team_id').where('team_id', '=', 't1').execute();
    expect(upper).toEqual([]);
  });

  it('text with a NUL character is stored (Postgres text cannot hold NUL: it becomes U+FFFD there)', async () => {
    const reason = 'before\u0000after';
    await opened.db.insertInto('workspace_state').values({ team_id: 'T1', paused: 1, disabled: 0, caps_json: '{}', settings_json: JSON.stringify({ note: reason }), updated_at: 'x', paused_reason: reason }).execute();
    await opened.db.updateTable('workspace_state').set({ disabled_reason: reason }).where('team_id', '=', 'T1').execute();
    await opened.db.insertInto('processed_events').values([{ key: `a${reason}`, at: 'x' }, { key: 'b', at: reason }]).execute();
    const row = await opened.db.selectFrom('workspace_state').selectAll().executeTakeFirstOrThrow();
    const stored = TEST_ENGINE === 'postgres' ? 'before\uFFFDafter' : reason;
    expect([row.paused_reason, row.disabled_reason]).toEqual([stored, stored]);
    expect(JSON.parse(row.settings_json)).toEqual({ note: reason });
    expect((await opened.db.selectFrom('processed_events').select(['key', 'at']).orderBy('key').execute())).toEqual([{ key: `a${stored}`, at: 'x' }, { key: 'b', at: stored }]);
  });

  it('a unique conflict does nothing when asked to and reports no row inserted', async () => {
    const first = await opened.db.insertInto('processed_events').values({ key: 'k', at: 'a' }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    const second = await opened.db.insertInto('processed_events').values({ key: 'k', at: 'b' }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    expect(Number(first.numInsertedOrUpdatedRows)).toBe(1);
    expect(Number(second.numInsertedOrUpdatedRows)).toBe(0);
    expect((await sql<{ at: string }>`SELECT at FROM processed_events`.execute(opened.db)).rows).toEqual([{ at: 'a' }]);
  });
});
