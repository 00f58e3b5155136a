import type { Kysely } from 'kysely';

// A per-run turn limit raised by "Raise cap and continue" (null: the workspace's limit).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('max_turns', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runs').dropColumn('max_turns').execute();
}
