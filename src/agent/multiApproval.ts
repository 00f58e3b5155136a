import type { Db } from '../db/connection.js';
import { getAction } from '../db/repos/actions.js';
import { appendActivity } from '../db/repos/activity.js';
import { addApproval } from '../db/repos/approvalRules.js';
import type { Action, Run } from '../db/schema.js';
import { countedApprovals } from './approvalPolicy.js';
import type { FieldChange } from './edits.js';

/** Where one click leaves a call that needs several approvers. */
export type ApprovalStep =
  /** Counted; more approvals are needed. */
  | { kind: 'counted'; given: number }
  /** This person had already approved this exact call: it counts once. */
  | { kind: 'again'; given: number }
  /** The count is reached: the caller approves the call (in the same transaction). */
  | { kind: 'complete'; given: number; hash: string }
  /** Decided meanwhile. */
  | { kind: 'late' };

interface Edit {
  inputJson: string;
  preparedJson: string | null;
  hash: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  changes: FieldChange[];
}

/**
 * Records one person's approval of a call that needs `required` distinct approvers, inside the caller's
 * transaction (the run is locked). An approval is bound to the exact call (its input hash): Edit & approve
 * changes the call, so the approvals given before no longer count and the editor's is the first of the
 * new call. The requester is refused before this point and is never counted anyway.
 */
export async function recordOneApproval(
  trx: Db,
  p: { action: Action; run: Run; userId: string; required: number; at: string; edit?: Edit },
): Promise<ApprovalStep> {
  const current = await getAction(trx, p.action.id);
  if (!current || current.status !== 'pending') return { kind: 'late' };
  let hash = current.input_hash;
  if (p.edit) {
    const res = await trx
      .updateTable('actions')
      .set({ input_json: p.edit.inputJson, prepared_json: p.edit.preparedJson, input_hash: p.edit.hash, updated_at: p.at })
      .where('id', '=', current.id)
      .where('status', '=', 'pending')
      .where('input_hash', '=', current.input_hash)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return { kind: 'late' };
    const reset = (await countedApprovals(trx, current, p.run)).length;
    await appendActivity(trx, {
      at: p.at,
      teamId: current.team_id,
      runId: current.run_id,
      actionId: current.id,
      actor: p.userId,
      kind: 'action_edited',
      detail: { tool: current.tool, before: p.edit.before, after: p.edit.after, changes: p.edit.changes, approvalsReset: reset },
    });
    hash = p.edit.hash;
  }
  const added = await addApproval(trx, { actionId: current.id, userId: p.userId, inputHash: hash, at: p.at });
  const given = (await countedApprovals(trx, { id: current.id, input_hash: hash }, p.run)).length;
  if (!added) return { kind: 'again', given };
  if (given >= p.required) return { kind: 'complete', given, hash };
  await appendActivity(trx, {
    at: p.at,
    teamId: current.team_id,
    runId: current.run_id,
    actionId: current.id,
    actor: p.userId,
    kind: 'approval_counted',
    detail: { tool: current.tool, given, required: p.required, ...(p.edit ? { edited: true } : {}) },
  });
  return { kind: 'counted', given };
}
