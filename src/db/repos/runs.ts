import { sql } from 'kysely';
import type { Db } from '../connection.js';
import { isPostgres } from '../dialect.js';
import type { NewRun, Run, RunStatus, RunUpdate } from '../schema.js';

export async function insertRun(db: Db, run: NewRun): Promise<void> {
  await db.insertInto('runs').values(run).execute();
}

export async function getRun(db: Db, id: string): Promise<Run | undefined> {
  return db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateRun(db: Db, id: string, patch: RunUpdate): Promise<void> {
  await db.updateTable('runs').set(patch).where('id', '=', id).execute();
}

/**
 * Moves a run between statuses only if it is still in one of `from`: the conditional update is how two
 * racing actors (a click and a cancel, two processes) agree on exactly one winner.
 */
export async function transitionRun(
  db: Db,
  id: string,
  from: readonly RunStatus[],
  patch: RunUpdate & { status: RunStatus },
): Promise<boolean> {
  const res = await db
    .updateTable('runs')
    .set(patch)
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function listRunIdsByStatus(db: Db, status: RunStatus): Promise<string[]> {
  const rows = await db.selectFrom('runs').select('id').where('status', '=', status).orderBy('created_at').execute();
  return rows.map((r) => r.id);
}

export async function countRunsByStatus(db: Db, teamId: string): Promise<Partial<Record<RunStatus, number>>> {
  const rows = await db
    .selectFrom('runs')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('team_id', '=', teamId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/**
 * Inside a transaction: makes transactions that read a run's state and decide from it (approve, reject,
 * dispatch, record a model call) take turns per run. SQLite needs nothing, since Kysely's SQLite driver
 * runs one transaction at a time on its single connection. A Postgres pool runs them side by side under
 * READ COMMITTED, where two approvals of the two cards of one turn could each still see the other card
 * pending, and neither would resume the run. NO KEY UPDATE: inserting a child row (a message, an action)
 * that references the run is not blocked. Returns whether a lock was taken (rows read before it may be
 * stale).
 */
export async function lockRun(trx: Db, runId: string): Promise<boolean> {
  if (!isPostgres(trx)) return false;
  await trx.selectFrom('runs').select('id').where('id', '=', runId).forNoKeyUpdate().execute();
  return true;
}

/**
 * Inside a transaction: makes the transactions that hand out a workspace's concurrency slots take turns
 * (count the slots in use, then take one), across instances. SQLite needs nothing (one transaction at a
 * time); on Postgres a transaction-scoped advisory lock keyed by the workspace.
 */
export async function lockTeamSlots(trx: Db, teamId: string): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(hashtext(${`slots:${teamId}`}))`.execute(trx);
}
