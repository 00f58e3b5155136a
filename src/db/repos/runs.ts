import type { Db } from '../connection.js';
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
