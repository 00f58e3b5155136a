import { z } from 'zod';
import type { Db } from '../connection.js';
import { parseStoredJson } from '../json.js';
import type { Action, ActionStatus, ActionsTable, NewAction } from '../schema.js';
import type { Updateable } from 'kysely';

export const toolResultSchema = z.object({ content: z.string(), is_error: z.boolean(), undo: z.record(z.string(), z.unknown()).optional() });
export type StoredToolResult = z.infer<typeof toolResultSchema>;

export function actionResult(action: Action): StoredToolResult | undefined {
  return action.result_json ? parseStoredJson(toolResultSchema, action.result_json, `result of ${action.id}`) : undefined;
}

export const preparedSchema = z.record(z.string(), z.unknown());

export function actionPrepared(action: Action): Record<string, unknown> {
  return action.prepared_json ? parseStoredJson(preparedSchema, action.prepared_json, `prepared ${action.id}`) : {};
}

export async function insertAction(db: Db, action: NewAction): Promise<void> {
  await db.insertInto('actions').values(action).execute();
}

export async function getAction(db: Db, id: string): Promise<Action | undefined> {
  return db.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listTurnActions(db: Db, runId: string, messageSeq: number): Promise<Action[]> {
  return db
    .selectFrom('actions')
    .selectAll()
    .where('run_id', '=', runId)
    .where('message_seq', '=', messageSeq)
    .orderBy('block_index')
    .execute();
}

export async function listRunActions(db: Db, runId: string): Promise<Action[]> {
  return db.selectFrom('actions').selectAll().where('run_id', '=', runId).orderBy('message_seq').orderBy('block_index').execute();
}

/** Conditional update: only one of any number of concurrent callers sees `true`. */
export async function transitionAction(
  db: Db,
  id: string,
  from: readonly ActionStatus[],
  patch: Updateable<ActionsTable> & { status?: ActionStatus },
  /** `inputHash`: only if the stored call is still this one (what the card showed). */
  only: { inputHash?: string } = {},
): Promise<boolean> {
  const res = await transition(db, id, from, patch, only).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The same conditional update, returning the updated row (undefined when another caller won). */
export async function transitionActionReturning(
  db: Db,
  id: string,
  from: readonly ActionStatus[],
  patch: Updateable<ActionsTable> & { status?: ActionStatus },
): Promise<Action | undefined> {
  return transition(db, id, from, patch).returningAll().executeTakeFirst();
}

function transition(db: Db, id: string, from: readonly ActionStatus[], patch: Updateable<ActionsTable>, only: { inputHash?: string } = {}) {
  const q = db.updateTable('actions').set(patch).where('id', '=', id).where('status', 'in', [...from]);
  return only.inputHash !== undefined ? q.where('input_hash', '=', only.inputHash) : q;
}

export async function updateAction(db: Db, id: string, patch: Updateable<ActionsTable>): Promise<void> {
  await db.updateTable('actions').set(patch).where('id', '=', id).execute();
}

export async function countPendingApprovals(db: Db, teamId: string): Promise<number> {
  const row = await db
    .selectFrom('actions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('team_id', '=', teamId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
