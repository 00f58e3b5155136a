import { AppError } from '../../errors.js';
import { ACTIVITY_GENESIS, activityHash, storable, type ChainedFields } from '../activityHash.js';
import type { Db } from '../connection.js';
import type { ActivityRow } from '../schema.js';

/** Who did it: a Slack user id, or the agent / the system itself. */
export type Actor = string | 'agent' | 'system';

export interface ActivityEntry {
  at: string;
  teamId: string;
  runId?: string | null;
  actionId?: string | null;
  actor: Actor;
  kind: string;
  detail?: Record<string, unknown>;
}

/**
 * The activity log is append-only: there is deliberately no update or delete here, and this is the only
 * way rows are written. Each row is chained to its workspace's previous row (see activityHash.ts). Inside
 * the caller's transaction the row commits (or not) with the state change it records; otherwise the
 * append is a transaction of its own. The workspace's chain head stays locked until that transaction
 * ends, so take other locks (lockRun, conditional claims) before appending, not after: the usual order
 * everywhere, which keeps two transactions from waiting on each other.
 */
export async function appendActivity(db: Db, entry: ActivityEntry): Promise<void> {
  await appendActivities(db, [entry]);
}

/** Several rows at once (in the given order within each workspace), e.g. when seeding. */
export async function appendActivities(db: Db, entries: readonly ActivityEntry[]): Promise<void> {
  if (entries.length === 0) return;
  if (db.isTransaction) await appendChained(db, entries);
  else await db.transaction().execute((trx) => appendChained(trx, entries));
}

async function appendChained(trx: Db, entries: readonly ActivityEntry[]): Promise<void> {
  const byTeam = new Map<string, Array<Omit<ChainedFields, 'seq'>>>();
  for (const e of entries) {
    const team = storable(e.teamId);
    const rows = byTeam.get(team) ?? [];
    rows.push({
      team_id: team,
      at: storable(e.at),
      run_id: e.runId == null ? null : storable(e.runId),
      action_id: e.actionId == null ? null : storable(e.actionId),
      actor: storable(e.actor),
      kind: storable(e.kind),
      // JSON.stringify escapes NUL and lone surrogates, so the detail is stored exactly as produced.
      detail_json: JSON.stringify(e.detail ?? {}),
    });
    byTeam.set(team, rows);
  }
  // Heads in a fixed order: two batches spanning the same workspaces cannot wait on each other in a cycle.
  for (const team of [...byTeam.keys()].sort()) {
    let head = await claimHead(trx, team);
    const values = byTeam.get(team)!.map((fields) => {
      const row = { ...fields, seq: head.seq + 1 };
      head = { seq: row.seq, hash: activityHash(row, head.hash) };
      return { ...row, hash: head.hash };
    });
    for (let i = 0; i < values.length; i += 500) await trx.insertInto('activity').values(values.slice(i, i + 500)).execute();
    await trx.updateTable('activity_chain').set({ seq: head.seq, hash: head.hash }).where('team_id', '=', team).execute();
  }
}

/**
 * Takes the workspace's chain head for the rest of the transaction and returns it. The head is written
 * before it is read: on PostgreSQL the update holds the row's lock until commit (a concurrent appender,
 * in this instance or another, waits and then reads the head this one left); on SQLite it takes the
 * database's write lock before anything is read, so another process cannot slip a row in between.
 */
async function claimHead(trx: Db, teamId: string): Promise<{ seq: number; hash: string }> {
  const claim = () =>
    trx
      .updateTable('activity_chain')
      .set((eb) => ({ seq: eb.ref('seq') }))
      .where('team_id', '=', teamId)
      .returning(['seq', 'hash'])
      .executeTakeFirst();
  const head = await claim();
  if (head) return head;
  // The workspace's first row: its chain starts at the genesis hash.
  await trx.insertInto('activity_chain').values({ team_id: teamId, seq: 0, hash: ACTIVITY_GENESIS }).onConflict((oc) => oc.column('team_id').doNothing()).execute();
  const created = await claim();
  if (!created) throw new AppError('invalid_state', `The activity chain head of ${teamId} could not be created`);
  return created;
}

export async function listRunActivity(db: Db, runId: string): Promise<ActivityRow[]> {
  return db.selectFrom('activity').selectAll().where('run_id', '=', runId).orderBy('id').execute();
}
