import type { Kysely } from 'kysely';

// Undo of auto_notify actions: who undid a call and when. Claimed with a conditional update on undone_at.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('actions').addColumn('undone_at', 'text').execute();
  await db.schema.alterTable('actions').addColumn('undone_by', 'text').execute();
  await db.schema.alterTable('actions').addColumn('notice_ts', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('actions').dropColumn('notice_ts').execute();
  await db.schema.alterTable('actions').dropColumn('undone_by').execute();
  await db.schema.alterTable('actions').dropColumn('undone_at').execute();
}
