import type { Db } from '../connection.js';

/** Human decisions on one action type's calls within a window, from the activity log. */
export interface DecisionCounts {
  tool: string;
  /** Distinct actions approved (a call approved by several people counts once). */
  approved: number;
  rejected: number;
  /** Distinct actions edited before approval (Edit & approve). */
  edited: number;
}

/**
 * Per tool: how many of its calls people approved, rejected and edited since `since` (ISO), read from
 * the activity log's decision rows joined to the actions they decided.
 */
export async function decisionCounts(db: Db, teamId: string, since: string): Promise<DecisionCounts[]> {
  const rows = await db
    .selectFrom('activity as a')
    .innerJoin('actions as x', 'x.id', 'a.action_id')
    .select(['x.tool as tool', 'a.kind as kind', (eb) => eb.fn.count<number>('a.action_id').distinct().as('n')])
    .where('a.team_id', '=', teamId)
    .where('a.at', '>=', since)
    .where('a.kind', 'in', ['approved', 'rejected', 'action_edited'])
    .groupBy(['x.tool', 'a.kind'])
    .execute();
  const byTool = new Map<string, DecisionCounts>();
  for (const r of rows) {
    const c = byTool.get(r.tool) ?? { tool: r.tool, approved: 0, rejected: 0, edited: 0 };
    const n = Number(r.n);
    if (r.kind === 'approved') c.approved = n;
    else if (r.kind === 'rejected') c.rejected = n;
    else c.edited = n;
    byTool.set(r.tool, c);
  }
  return [...byTool.values()];
}

export interface SuggestionRecord {
  actionType: string;
  offeredAt: string | null;
  outcome: 'applied' | 'dismissed' | null;
  closedBy: string | null;
  closedAt: string | null;
}

export async function listSuggestionRecords(db: Db, teamId: string): Promise<Map<string, SuggestionRecord>> {
  const rows = await db.selectFrom('trust_suggestions').selectAll().where('team_id', '=', teamId).execute();
  return new Map(rows.map((r) => [r.action_type, { actionType: r.action_type, offeredAt: r.offered_at, outcome: r.outcome, closedBy: r.closed_by, closedAt: r.closed_at }]));
}

/** Notes that these suggestions went out in a digest; a later close or offer replaces the earlier one. */
export async function markOffered(db: Db, teamId: string, actionTypes: readonly string[], at: string): Promise<void> {
  for (const actionType of actionTypes) {
    await db
      .insertInto('trust_suggestions')
      .values({ team_id: teamId, action_type: actionType, offered_at: at, outcome: null, closed_by: null, closed_at: null })
      .onConflict((oc) => oc.columns(['team_id', 'action_type']).doUpdateSet({ offered_at: at, outcome: null, closed_by: null, closed_at: null }))
      .execute();
  }
}

export async function closeSuggestion(db: Db, teamId: string, actionType: string, outcome: 'applied' | 'dismissed', by: string, at: string): Promise<void> {
  await db
    .insertInto('trust_suggestions')
    .values({ team_id: teamId, action_type: actionType, offered_at: null, outcome, closed_by: by, closed_at: at })
    .onConflict((oc) => oc.columns(['team_id', 'action_type']).doUpdateSet({ outcome, closed_by: by, closed_at: at }))
    .execute();
}

/** When the action type's own trust setting last changed ('' when it never had one): a suggestion's basis. */
export async function trustSettingVersion(db: Db, teamId: string, actionType: string): Promise<string> {
  const row = await db.selectFrom('trust_settings').select('updated_at').where('team_id', '=', teamId).where('action_type', '=', actionType).executeTakeFirst();
  return row?.updated_at ?? '';
}
