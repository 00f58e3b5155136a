import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';

// Frozen once landed.
// - A tamper-evident activity log: every activity row gets `seq` (its position in its workspace's chain,
//   1, 2, 3, ...) and `hash`, the sha256 of the row's canonical form, which includes the hash of the
//   workspace's previous row. `activity_chain` holds each workspace's head (last seq and hash); appending
//   updates it in the same transaction, so concurrent writers (several instances) take turns on it.
// - Rows that existed before this migration are chained here, per workspace in id order (the order they
//   were written in), so the whole history is covered from now on.
// - `trust_suggestions`: what admins were told about action types that are always approved (offered in a
//   digest, applied, dismissed), so a suggestion is not repeated every day.
//
// The canonical form is copied here on purpose (migrations never import src/): version 1 is
//   sha256( UTF-8( JSON.stringify(['activity-v1', seq, team_id, at, run_id, action_id, actor, kind,
//                                  detail_json, previous_hash]) ) ) as lowercase hex,
// with the previous hash of a workspace's first row being 64 zeros. src/db/activityHash.ts is the live copy.

const GENESIS = '0'.repeat(64);

interface Row {
  id: number;
  team_id: string;
  at: string;
  run_id: string | null;
  action_id: string | null;
  actor: string;
  kind: string;
  detail_json: string;
}

function hashV1(r: Row, seq: number, prev: string): string {
  const canonical = JSON.stringify(['activity-v1', seq, r.team_id, r.at, r.run_id, r.action_id, r.actor, r.kind, r.detail_json, prev]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

async function backfill(db: Kysely<any>): Promise<void> {
  const heads = new Map<string, { seq: number; hash: string }>();
  let after = 0;
  for (;;) {
    const rows = (await db
      .selectFrom('activity')
      .select(['id', 'team_id', 'at', 'run_id', 'action_id', 'actor', 'kind', 'detail_json'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(1000)
      .execute()) as Row[];
    if (rows.length === 0) break;
    for (const r of rows) {
      const head = heads.get(r.team_id) ?? { seq: 0, hash: GENESIS };
      const seq = head.seq + 1;
      const hash = hashV1(r, seq, head.hash);
      await db.updateTable('activity').set({ seq, hash }).where('id', '=', r.id).execute();
      heads.set(r.team_id, { seq, hash });
    }
    after = rows[rows.length - 1]!.id;
  }
  for (const [team_id, head] of heads) {
    await db.insertInto('activity_chain').values({ team_id, seq: head.seq, hash: head.hash }).execute();
  }
}

async function steps(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('activity').addColumn('seq', 'integer').execute();
  await db.schema.alterTable('activity').addColumn('hash', 'text').execute();
  await db.schema
    .createTable('activity_chain')
    .addColumn('team_id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await backfill(db);
  // A fork of the chain (two rows at one position) cannot be written, even by a bug.
  await db.schema.createIndex('activity_team_seq').on('activity').columns(['team_id', 'seq']).unique().execute();

  await db.schema
    .createTable('trust_suggestions')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('action_type', 'text', (c) => c.notNull())
    // When the suggestion was last put in a daily digest.
    .addColumn('offered_at', 'text')
    // 'applied' or 'dismissed', by whom and when (null while open).
    .addColumn('outcome', 'text')
    .addColumn('closed_by', 'text')
    .addColumn('closed_at', 'text')
    .addPrimaryKeyConstraint('trust_suggestions_pk', ['team_id', 'action_type'])
    .execute();
}

export async function up(db: Kysely<any>): Promise<void> {
  // Postgres runs migrations in a transaction already; on SQLite one is opened here, so a migration
  // interrupted halfway (a crash during the backfill) leaves nothing behind and runs again whole.
  if (db.isTransaction) await steps(db);
  else await db.transaction().execute(steps);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('trust_suggestions').execute();
  await db.schema.dropIndex('activity_team_seq').execute();
  await db.schema.dropTable('activity_chain').execute();
  await db.schema.alterTable('activity').dropColumn('hash').execute();
  await db.schema.alterTable('activity').dropColumn('seq').execute();
}
