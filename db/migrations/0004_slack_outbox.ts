import type { Kysely } from 'kysely';

// Frozen once landed. The Slack outbox: every Slack write the app makes is a row here first, written in
// the same transaction as the state change it reports, then delivered (paced, retried) by the outbox
// delivery loop. `slack_messages` maps the app's logical message keys (task:<run>, card:<action>, ...)
// to the Slack message they became, so updates and thread replies can wait for a ts that does not exist yet.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('slack_outbox')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text')
    // Posts of one lane (a run's messages, or a channel's) are delivered in id order.
    .addColumn('lane', 'text', (c) => c.notNull())
    .addColumn('msg_key', 'text')
    .addColumn('op', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    // Key of the message whose thread a post goes in (its ts may not be known yet).
    .addColumn('thread_key', 'text')
    .addColumn('payload_json', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('not_before', 'text', (c) => c.notNull())
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_at', 'text')
    .addColumn('sent_ts', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('slack_outbox_status').on('slack_outbox').columns(['status', 'id']).execute();
  await db.schema.createIndex('slack_outbox_key').on('slack_outbox').columns(['msg_key', 'status']).execute();

  await db.schema
    .createTable('slack_messages')
    .addColumn('msg_key', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('ts', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('slack_messages').execute();
  await db.schema.dropTable('slack_outbox').execute();
}
