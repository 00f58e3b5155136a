import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OpenedDatabase } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { NewRun, RunStatus } from '../../src/db/schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

/** A migrated database of the project's engine, and a way to add runs to it. */
export async function leaseTestDatabase(): Promise<{ opened: OpenedDatabase; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leases-'));
  const testDb: TestDatabase = await createTestDatabase(dir);
  const opened = testDb.open();
  await migrateToLatest(opened.db);
  return {
    opened,
    async close() {
      await opened.db.destroy();
      await testDb.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function runRow(id: string, extra: Partial<NewRun> & { status?: RunStatus } = {}): NewRun {
  return {
    id,
    team_id: 'T1',
    channel_id: 'C1',
    thread_ts: null,
    requester_id: 'U1',
    task: 'task',
    status: 'running',
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
  };
}

export const LONG_AGO = '2000-01-01T00:00:00.000Z';
