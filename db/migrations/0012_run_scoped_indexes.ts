import type { Kysely } from 'kysely';

// Frozen once landed. "This run's pending (or dispatching) actions": without an index on both columns,
// SQLite's planner answered it through actions_status (0008), i.e. by walking every pending action of
// every workspace for each run. With 10,000 runs waiting for approval, the start-up repair query alone
// took ~5 s; the run-scoped reads of the hot path paid the same per call.
// The edits of an action are read from the activity log by action id (every card render and tool turn
// asks); without an index that read walked the whole log.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('actions_run_status').on('actions').columns(['run_id', 'status']).execute();
  await db.schema.createIndex('activity_action').on('activity').columns(['action_id', 'kind']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('activity_action').execute();
  await db.schema.dropIndex('actions_run_status').execute();
}
