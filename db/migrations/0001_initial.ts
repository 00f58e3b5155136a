import type { Kysely } from 'kysely';

// Frozen once landed: later schema changes get a new migration file. Typed Kysely<any> on purpose, so a
// migration never depends on the application's current schema types.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('thread_ts', 'text')
    .addColumn('requester_id', 'text', (c) => c.notNull())
    .addColumn('task', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('spend_usd', 'real', (c) => c.notNull().defaultTo(0))
    .addColumn('turns', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('parent_run_id', 'text')
    .addColumn('extra_context', 'text')
    .addColumn('system_prompt', 'text', (c) => c.notNull())
    .addColumn('tools_json', 'text', (c) => c.notNull())
    .addColumn('task_status', 'text', (c) => c.notNull().defaultTo('in_progress'))
    .addColumn('subtasks_json', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('cost_cap_usd', 'real')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema.createIndex('runs_team_status').on('runs').columns(['team_id', 'status']).execute();
  await db.schema.createIndex('runs_status').on('runs').column('status').execute();

  await db.schema
    .createTable('run_messages')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('content_json', 'text', (c) => c.notNull())
    .addColumn('stop_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('run_messages_run_seq', ['run_id', 'seq'])
    .execute();

  await db.schema
    .createTable('actions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id'))
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('message_seq', 'integer', (c) => c.notNull())
    .addColumn('block_index', 'integer', (c) => c.notNull())
    .addColumn('tool_use_id', 'text', (c) => c.notNull())
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('input_json', 'text', (c) => c.notNull())
    .addColumn('prepared_json', 'text')
    .addColumn('input_hash', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('approved_hash', 'text')
    .addColumn('result_json', 'text')
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('decision_note', 'text')
    .addColumn('card_channel', 'text')
    .addColumn('card_ts', 'text')
    .addColumn('card_error', 'text')
    .addColumn('dispatch_started_at', 'text')
    .addColumn('dispatched_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('actions_run_tool_use', ['run_id', 'tool_use_id'])
    .execute();
  await db.schema.createIndex('actions_run').on('actions').columns(['run_id', 'message_seq']).execute();
  await db.schema.createIndex('actions_team_status').on('actions').columns(['team_id', 'status']).execute();

  await db.schema
    .createTable('activity')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text')
    .addColumn('action_id', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('detail_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('activity_run').on('activity').columns(['run_id', 'id']).execute();
  await db.schema.createIndex('activity_team_at').on('activity').columns(['team_id', 'at']).execute();

  await db.schema
    .createTable('trust_settings')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('action_type', 'text', (c) => c.notNull())
    .addColumn('mode', 'text')
    .addColumn('approvers_json', 'text')
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('trust_settings_pk', ['team_id', 'action_type'])
    .execute();

  await db.schema
    .createTable('workspace_state')
    .addColumn('team_id', 'text', (c) => c.primaryKey())
    .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('paused_reason', 'text')
    .addColumn('paused_by', 'text')
    .addColumn('paused_at', 'text')
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled_reason', 'text')
    .addColumn('disabled_by', 'text')
    .addColumn('disabled_at', 'text')
    .addColumn('caps_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('settings_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('schedules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('cron', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('task', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_by_run_id', 'text')
    .addColumn('last_fired_minute', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('model_calls')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('input_tokens', 'integer', (c) => c.notNull())
    .addColumn('output_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_read_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_write_5m_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_write_1h_tokens', 'integer', (c) => c.notNull())
    .addColumn('cost_usd', 'real', (c) => c.notNull())
    .addColumn('stop_reason', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('model_calls_team_at').on('model_calls').columns(['team_id', 'at']).execute();
  await db.schema.createIndex('model_calls_run').on('model_calls').column('run_id').execute();

  // A tiny key/value table for idempotency markers (e.g. Slack event retries already processed).
  await db.schema
    .createTable('processed_events')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'processed_events',
    'model_calls',
    'schedules',
    'workspace_state',
    'trust_settings',
    'activity',
    'actions',
    'run_messages',
    'runs',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
