import type { Db } from '../connection.js';
import type { ModelCallsTable } from '../schema.js';
import type { Insertable } from 'kysely';

export async function insertModelCall(db: Db, call: Insertable<ModelCallsTable>): Promise<void> {
  await db.insertInto('model_calls').values(call).execute();
}

/** Spend since `sinceIso` for a workspace, optionally for one user. */
export async function spendSince(db: Db, teamId: string, sinceIso: string, userId?: string): Promise<number> {
  let q = db
    .selectFrom('model_calls')
    .select((eb) => eb.fn.sum<number | null>('cost_usd').as('total'))
    .where('team_id', '=', teamId)
    .where('at', '>=', sinceIso);
  if (userId) q = q.where('user_id', '=', userId);
  const row = await q.executeTakeFirst();
  return Number(row?.total ?? 0);
}
