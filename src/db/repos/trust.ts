import { z } from 'zod';
import type { Db } from '../connection.js';
import { parseStoredJson } from '../json.js';
import type { TrustMode } from '../schema.js';

export const approversSchema = z.object({ users: z.array(z.string()), groups: z.array(z.string()) });
export type Approvers = z.infer<typeof approversSchema>;

export interface TrustSetting {
  actionType: string;
  mode: TrustMode | null;
  approvers: Approvers | null;
}

export async function listTrustSettings(db: Db, teamId: string): Promise<Map<string, TrustSetting>> {
  const rows = await db.selectFrom('trust_settings').selectAll().where('team_id', '=', teamId).execute();
  return new Map(
    rows.map((r) => [
      r.action_type,
      {
        actionType: r.action_type,
        mode: r.mode,
        approvers: r.approvers_json ? parseStoredJson(approversSchema, r.approvers_json, `approvers of ${r.action_type}`) : null,
      },
    ]),
  );
}

export async function getTrustSetting(db: Db, teamId: string, actionType: string): Promise<TrustSetting | undefined> {
  return (await listTrustSettings(db, teamId)).get(actionType);
}

/** Upserts one action type's setting; `undefined` fields keep their stored value. */
export async function saveTrustSetting(
  db: Db,
  row: { teamId: string; actionType: string; mode?: TrustMode | null; approvers?: Approvers | null; updatedBy: string; at: string },
): Promise<void> {
  const existing = await getTrustSetting(db, row.teamId, row.actionType);
  const mode = row.mode === undefined ? (existing?.mode ?? null) : row.mode;
  const approvers = row.approvers === undefined ? (existing?.approvers ?? null) : row.approvers;
  await db
    .insertInto('trust_settings')
    .values({
      team_id: row.teamId,
      action_type: row.actionType,
      mode,
      approvers_json: approvers ? JSON.stringify(approvers) : null,
      updated_by: row.updatedBy,
      updated_at: row.at,
    })
    .onConflict((oc) =>
      oc.columns(['team_id', 'action_type']).doUpdateSet({
        mode,
        approvers_json: approvers ? JSON.stringify(approvers) : null,
        updated_by: row.updatedBy,
        updated_at: row.at,
      }),
    )
    .execute();
}
