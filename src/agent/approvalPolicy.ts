import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { escalationOf, getActionPolicy, listApprovalRules, listApprovals, saveApprovalRule, type ApprovalRule } from '../db/repos/approvalRules.js';
import type { Approvers } from '../db/repos/trust.js';
import type { Action, Run } from '../db/schema.js';
import { AppError } from '../errors.js';
import { CATALOG, findActionType } from '../policy/catalog.js';
import { code } from '../text/mrkdwn.js';
import { isServerPattern, serverOf, serverPattern } from '../tools/mcp/names.js';
import type { ToolRegistry } from '../tools/registry.js';

/** The decided_by of a call closed because nobody decided before its expiry (stored as a rejection). */
export const EXPIRY_ACTOR = 'expiry';

/** Two-person approval and beyond: at most this many distinct approvers can be required. */
export const MAX_APPROVALS = 5;

/** The rule that applies to `tool`: its own, else (MCP) its server's `<server>__*` rule. */
export async function ruleFor(db: Db, teamId: string, tool: string): Promise<ApprovalRule | undefined> {
  const rules = await listApprovalRules(db, teamId);
  const server = isServerPattern(tool) ? undefined : serverOf(tool);
  return rules.get(tool) ?? (server ? rules.get(serverPattern(server)) : undefined);
}

/**
 * How many distinct approvers (never the requester) a call needs: what its rule said when it started
 * waiting, or the current rule if that asks for more. Raising the number applies to cards already
 * waiting; lowering it never weakens one.
 */
export async function requiredApprovals(db: Db, action: Pick<Action, 'id' | 'team_id' | 'tool'>): Promise<number> {
  return (await approvalNeeds(db, action)).required;
}

/** The number of approvers an approved call was approved under (the dispatcher's check); one by default. */
export async function approvalsAtDecision(db: Db, actionId: string): Promise<number> {
  return Math.max(1, (await getActionPolicy(db, actionId))?.approvals_required ?? 1);
}

/** Stores the number of approvers a call was approved under, on its policy row (made if it has none). */
export async function recordRequiredApprovals(db: Db, input: { action: Pick<Action, 'id' | 'team_id' | 'run_id'>; required: number; at: string }): Promise<void> {
  const { action, required, at } = input;
  await db
    .insertInto('action_policies')
    .values({ action_id: action.id, team_id: action.team_id, run_id: action.run_id, approvals_required: required, created_at: at })
    .onConflict((oc) => oc.column('action_id').doUpdateSet({ approvals_required: required }))
    .execute();
}

/** The approvals that count for the stored call: its exact input, distinct people, not the requester. */
export async function countedApprovals(db: Db, action: Pick<Action, 'id' | 'input_hash'>, run: Pick<Run, 'requester_id'>): Promise<Array<{ user: string; at: string }>> {
  return (await listApprovals(db, action.id, action.input_hash)).filter((a) => a.user !== run.requester_id);
}

/**
 * Called when a call starts waiting for approval: the rule of its action type is copied onto it with its
 * due times, so the timers survive restarts and a later rule change does not move this card's deadline.
 * Nothing is stored when no rule applies.
 */
export async function armActionPolicy(db: Db, action: Pick<Action, 'id' | 'team_id' | 'run_id' | 'tool'>, at: string): Promise<void> {
  const rule = await ruleFor(db, action.team_id, action.tool);
  if (!rule || (!rule.approvals && !rule.remindAfterS && !rule.expireAfterS)) return;
  const due = (s: number | undefined) => (s ? new Date(Date.parse(at) + s * 1000).toISOString() : null);
  await db
    .insertInto('action_policies')
    .values({
      action_id: action.id,
      team_id: action.team_id,
      run_id: action.run_id,
      approvals_required: Math.min(MAX_APPROVALS, Math.max(1, rule.approvals ?? 1)),
      remind_at: due(rule.remindAfterS),
      reminded_at: null,
      escalate_json: rule.remindAfterS && rule.escalate ? JSON.stringify(rule.escalate) : null,
      escalated_at: null,
      expire_at: due(rule.expireAfterS),
      expire_after_s: rule.expireAfterS ?? null,
      created_at: at,
    })
    .onConflict((oc) => oc.column('action_id').doNothing())
    .execute();
}

/** Who the escalation added to the approvers of a call, once its reminder has fired. */
export async function escalatedApprovers(db: Db, actionId: string): Promise<Approvers | undefined> {
  return escalatedOf(await getActionPolicy(db, actionId));
}

function escalatedOf(armed: Awaited<ReturnType<typeof getActionPolicy>>): Approvers | undefined {
  if (!armed?.escalated_at || !armed.escalate_json) return undefined;
  return escalationOf(armed);
}

/** What a click on a call has to be checked against: `requiredApprovals` and `escalatedApprovers`, read once. */
export async function approvalNeeds(db: Db, action: Pick<Action, 'id' | 'team_id' | 'tool'>): Promise<{ required: number; escalated: Approvers | undefined }> {
  const [armed, rule] = await Promise.all([getActionPolicy(db, action.id), ruleFor(db, action.team_id, action.tool)]);
  return { required: Math.max(1, armed?.approvals_required ?? 1, rule?.approvals ?? 1), escalated: escalatedOf(armed) };
}

export type RuleChange =
  | { field: 'approvals'; value: number | undefined }
  | { field: 'expire'; value: number | undefined }
  | { field: 'remind'; value: { afterS: number; escalate: Approvers | undefined } | undefined };

export interface ApprovalRulesDeps {
  db: Db;
  clock: Clock;
  registry: ToolRegistry;
  requireAdmin(teamId: string, userId: string, what: string): Promise<void>;
}

/** `/agent trust <action> approvals|expire|remind …`: admins only, every change logged with before and after. */
export class ApprovalRules {
  constructor(private readonly deps: ApprovalRulesDeps) {}

  list(teamId: string): Promise<Map<string, ApprovalRule>> {
    return listApprovalRules(this.deps.db, teamId);
  }

  async change(teamId: string, userId: string, actionType: string, change: RuleChange): Promise<{ before: ApprovalRule; after: ApprovalRule }> {
    await this.deps.requireAdmin(teamId, userId, 'change approval rules');
    this.knownAction(actionType);
    if (change.field === 'approvals' && change.value !== undefined && (!Number.isInteger(change.value) || change.value < 1 || change.value > MAX_APPROVALS)) {
      throw new AppError('bad_command', `The number of approvals is 1 to ${MAX_APPROVALS}.`);
    }
    const { db } = this.deps;
    const at = this.deps.clock.now().toISOString();
    return db.transaction().execute(async (trx) => {
      const before = (await listApprovalRules(trx, teamId)).get(actionType) ?? { actionType };
      const after: ApprovalRule = { ...before };
      if (change.field === 'approvals') {
        delete after.approvals;
        if (change.value && change.value > 1) after.approvals = change.value;
      } else if (change.field === 'expire') {
        delete after.expireAfterS;
        if (change.value) after.expireAfterS = change.value;
      } else {
        delete after.remindAfterS;
        delete after.escalate;
        if (change.value) {
          after.remindAfterS = change.value.afterS;
          if (change.value.escalate) after.escalate = change.value.escalate;
        }
      }
      await saveApprovalRule(trx, teamId, after, userId, at);
      await appendActivity(trx, { at, teamId, actor: userId, kind: 'approval_rule_changed', detail: { actionType, field: change.field, before: ruleDetail(before), after: ruleDetail(after) } });
      return { before, after };
    });
  }

  private knownAction(action: string): void {
    if (isServerPattern(action)) {
      if (this.deps.registry.source(serverOf(action)!)) return;
      throw new AppError('bad_command', `${code(serverOf(action)!).value} is not an MCP server in MCP_CONFIG. \`/agent tools\` lists the servers.`);
    }
    if (!findActionType(action) && !this.deps.registry.get(action)) {
      throw new AppError('bad_command', `${code(action).value} is not an action type. Known: ${CATALOG.map((a) => code(a.name).value).join(', ')}.`);
    }
  }
}

function ruleDetail(rule: ApprovalRule): Record<string, unknown> {
  return { approvals: rule.approvals ?? 1, remindAfterS: rule.remindAfterS ?? null, escalate: rule.escalate ?? null, expireAfterS: rule.expireAfterS ?? null };
}
