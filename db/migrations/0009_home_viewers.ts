import type { Kysely } from 'kysely';

// Frozen once landed. People who opened the app's Home tab recently: only their Home views are kept
// current as cards and runs change (the app never publishes a Home for every member of a workspace).
// `note` is the answer to their last click in the Home tab (Slack has no ephemeral reply there).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('home_viewers')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('note_at', 'text')
    .addPrimaryKeyConstraint('home_viewers_pk', ['team_id', 'user_id'])
    .execute();
  await db.schema.createIndex('home_viewers_recent').on('home_viewers').columns(['team_id', 'opened_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('home_viewers').execute();
}
