import type { Db } from '../connection.js';
import { parseStoredJson } from '../json.js';
import type { ActionPolicy } from '../schema.js';
import { approversSchema, type Approvers } from './trust.js';

/** An admin's rule for one action type; undefined fields are off. */
export interface ApprovalRule {
  actionType: string;
  /** Distinct approvers needed (2..5); undefined: one, as always. */
  approvals?: number;
  remindAfterS?: number;
  /** Who is added to the approvers when the reminder fires. */
  escalate?: Approvers;
  expireAfterS?: number;
}

function ruleOf(r: { action_type: string; approvals: number | null; remind_after_s: number | null; escalate_json: string | null; expire_after_s: number | null }): ApprovalRule {
  return {
    actionType: r.action_type,
    ...(r.approvals !== null && r.approvals > 1 ? { approvals: r.approvals } : {}),
    ...(r.remind_after_s !== null ? { remindAfterS: r.remind_after_s } : {}),
    ...(r.escalate_json ? { escalate: parseStoredJson(approversSchema, r.escalate_json, `escalation of ${r.action_type}`) } : {}),
    ...(r.expire_after_s !== null ? { expireAfterS: r.expire_after_s } : {}),
  };
}

export async function listApprovalRules(db: Db, teamId: string): Promise<Map<string, ApprovalRule>> {
  const rows = await db.selectFrom('approval_rules').selectAll().where('team_id', '=', teamId).execute();
  return new Map(rows.map((r) => [r.action_type, ruleOf(r)]));
}

/** Replaces one action type's rule (every field as given). */
export async function saveApprovalRule(db: Db, teamId: string, rule: ApprovalRule, by: string, at: string): Promise<void> {
  const values = {
    approvals: rule.approvals ?? null,
    remind_after_s: rule.remindAfterS ?? null,
    escalate_json: rule.escalate ? JSON.stringify(rule.escalate) : null,
    expire_after_s: rule.expireAfterS ?? null,
    updated_by: by,
    updated_at: at,
  };
  await db
    .insertInto('approval_rules')
    .values({ team_id: teamId, action_type: rule.actionType, ...values })
    .onConflict((oc) => oc.columns(['team_id', 'action_type']).doUpdateSet(values))
    .execute();
}

export async function getActionPolicy(db: Db, actionId: string): Promise<ActionPolicy | undefined> {
  return db.selectFrom('action_policies').selectAll().where('action_id', '=', actionId).executeTakeFirst();
}

export function escalationOf(policy: Pick<ActionPolicy, 'action_id' | 'escalate_json'> | undefined): Approvers | undefined {
  return policy?.escalate_json ? parseStoredJson(approversSchema, policy.escalate_json, `escalation of ${policy.action_id}`) : undefined;
}


/** Who approved exactly this call (its current input hash), first approval first. */
export async function listApprovals(db: Db, actionId: string, inputHash: string): Promise<Array<{ user: string; at: string }>> {
  const rows = await db
    .selectFrom('action_approvals')
    .select(['user_id', 'at'])
    .where('action_id', '=', actionId)
    .where('input_hash', '=', inputHash)
    .orderBy('at')
    .orderBy('user_id')
    .execute();
  return rows.map((r) => ({ user: r.user_id, at: r.at }));
}

/** Records one person's approval of one exact call; false when they had already approved it. */
export async function addApproval(db: Db, row: { actionId: string; userId: string; inputHash: string; at: string }): Promise<boolean> {
  const res = await db
    .insertInto('action_approvals')
    .values({ action_id: row.actionId, user_id: row.userId, input_hash: row.inputHash, at: row.at })
    .onConflict((oc) => oc.columns(['action_id', 'user_id', 'input_hash']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
}
