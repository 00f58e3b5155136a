import type { Db } from '../connection.js';

/** Someone opened (or used) their Home tab: they are a recent viewer from `at`. */
export async function touchHomeViewer(db: Db, teamId: string, userId: string, at: string): Promise<void> {
  await db
    .insertInto('home_viewers')
    .values({ team_id: teamId, user_id: userId, opened_at: at, note: null, note_at: null })
    .onConflict((oc) => oc.columns(['team_id', 'user_id']).doUpdateSet({ opened_at: at }))
    .execute();
}

/** The most recent viewers of a workspace's Home tab since `since`, newest first, at most `limit`. */
export async function recentHomeViewers(db: Db, teamId: string, since: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('home_viewers')
    .select('user_id')
    .where('team_id', '=', teamId)
    .where('opened_at', '>=', since)
    .orderBy('opened_at', 'desc')
    .orderBy('user_id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.user_id);
}

export async function setHomeNote(db: Db, teamId: string, userId: string, note: string, at: string): Promise<void> {
  await db
    .insertInto('home_viewers')
    .values({ team_id: teamId, user_id: userId, opened_at: at, note, note_at: at })
    .onConflict((oc) => oc.columns(['team_id', 'user_id']).doUpdateSet({ opened_at: at, note, note_at: at }))
    .execute();
}

export async function getHomeNote(db: Db, teamId: string, userId: string): Promise<{ note: string; at: string } | undefined> {
  const row = await db.selectFrom('home_viewers').select(['note', 'note_at']).where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
  return row?.note && row.note_at ? { note: row.note, at: row.note_at } : undefined;
}

/** Forgets viewers who have not opened their Home since `before` (keeps the table bounded). */
export async function forgetHomeViewers(db: Db, before: string): Promise<number> {
  const res = await db.deleteFrom('home_viewers').where('opened_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
