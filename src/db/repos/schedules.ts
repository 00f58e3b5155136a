import type { Selectable } from 'kysely';
import type { Db } from '../connection.js';
import type { SchedulesTable } from '../schema.js';

export type Schedule = Selectable<SchedulesTable>;
export type ScheduleStatus = 'active' | 'paused' | 'deleted';

export async function insertSchedule(db: Db, row: Schedule): Promise<void> {
  await db.insertInto('schedules').values(row).execute();
}

export async function getSchedule(db: Db, id: string): Promise<Schedule | undefined> {
  return db.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listSchedules(db: Db, teamId?: string): Promise<Schedule[]> {
  let q = db.selectFrom('schedules').selectAll().where('status', '!=', 'deleted').orderBy('created_at');
  if (teamId) q = q.where('team_id', '=', teamId);
  return q.execute();
}

export async function setScheduleStatus(db: Db, id: string, from: ScheduleStatus[], to: ScheduleStatus, at: string): Promise<boolean> {
  const res = await db.updateTable('schedules').set({ status: to, updated_at: at }).where('id', '=', id).where('status', 'in', from).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Claims one firing: only the caller that moves last_fired_minute forward wins, so a schedule fires at
 * most once per minute even across restarts or several instances.
 */
export async function claimFiring(db: Db, id: string, minute: string, at: string): Promise<boolean> {
  const res = await db
    .updateTable('schedules')
    .set({ last_fired_minute: minute, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('last_fired_minute', 'is', null), eb('last_fired_minute', '<', minute)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
