import type { Kysely } from 'kysely';

// Frozen once landed. Talking to the agent in Slack threads and DMs:
// - `run_replies`: what people wrote in a run's thread after it started (the requester's replies steer the
//   run; other people's, where a workspace allows it, are labelled context). A reply waits here until the
//   run's next model turn takes it into the conversation (`taken_seq`), so a reply that arrives while the
//   run waits for approval or after it finished is never lost and never added twice.
// - `assistant_threads`: DM threads Slack opened on the app's AI surface (assistant_thread_started), where
//   the app shows a status ("working", "waiting for approval") while a run is busy.
// - runs(channel_id, thread_ts): finding the run a thread reply belongs to.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('run_replies')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('author_id', 'text', (c) => c.notNull())
    // 'requester' (an instruction from the person who started the run) or 'other' (labelled context).
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('message_ts', 'text', (c) => c.notNull())
    .addColumn('taken_seq', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('taken_at', 'text')
    .execute();
  await db.schema.createIndex('run_replies_run').on('run_replies').columns(['run_id', 'taken_seq']).execute();

  await db.schema
    .createTable('assistant_threads')
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('thread_ts', 'text', (c) => c.notNull())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('assistant_threads_pk', ['channel_id', 'thread_ts'])
    .execute();

  await db.schema.createIndex('runs_thread').on('runs').columns(['channel_id', 'thread_ts']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('runs_thread').execute();
  await db.schema.dropTable('assistant_threads').execute();
  await db.schema.dropTable('run_replies').execute();
}
