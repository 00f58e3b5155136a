import type { Kysely } from 'kysely';

// Frozen once landed. Several instances on one database: a run is advanced by the instance holding its
// lease (renewed by that instance's heartbeat; an expired lease may be taken over), a run holds one of its
// workspace's concurrency slots while it calls the model, and runs waiting for a slot are ordered by
// queued_at. `instances` lists the processes sharing the database and when each was last heard from, so
// the Slack messages one of them was sending when it died can be recognised as interrupted.
// Lease times are ISO-8601 text from the database's clock (Postgres) or the host's (SQLite).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('lease_owner', 'text').execute();
  await db.schema.alterTable('runs').addColumn('lease_expires_at', 'text').execute();
  await db.schema.alterTable('runs').addColumn('slot_held', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('runs').addColumn('queued_at', 'text').execute();
  await db.schema.createIndex('runs_lease_owner').on('runs').column('lease_owner').execute();
  // The sweep looks for actions left mid-dispatch every second.
  await db.schema.createIndex('actions_status').on('actions').column('status').execute();

  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('heartbeat_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('draining', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('instances').execute();
  await db.schema.dropIndex('actions_status').execute();
  await db.schema.dropIndex('runs_lease_owner').execute();
  await db.schema.alterTable('runs').dropColumn('queued_at').execute();
  await db.schema.alterTable('runs').dropColumn('slot_held').execute();
  await db.schema.alterTable('runs').dropColumn('lease_expires_at').execute();
  await db.schema.alterTable('runs').dropColumn('lease_owner').execute();
}
