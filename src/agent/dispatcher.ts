import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { actionPrepared, getAction, transitionAction, transitionActionReturning, type StoredToolResult } from '../db/repos/actions.js';
import { appendActivity } from '../db/repos/activity.js';
import { getRun, lockRun } from '../db/repos/runs.js';
import { getWorkspace } from '../db/repos/workspace.js';
import type { Action, Run } from '../db/schema.js';
import { AppError, errorMessage, OutcomeUnknownError, type ErrorCode } from '../errors.js';
import type { ToolRegistry } from '../tools/registry.js';
import { ToolError, type ToolRunContext } from '../tools/types.js';
import { callHash } from './hash.js';
import { approvalsAtDecision, countedApprovals } from './approvalPolicy.js';
import { decideFor, type QueueThresholds } from './policyContext.js';
import type { MetricsSink } from '../metrics/sink.js';
import { secondsBetween } from '../metrics/time.js';

/** The decided_by value for calls the policy let run without a human. */
export const POLICY_ACTOR = 'policy';

export interface DispatcherDeps {
  db: Db;
  registry: ToolRegistry;
  clock: Clock;
  logger: Logger;
  queue: QueueThresholds;
  metrics?: MetricsSink;
}

export type DispatchResult = {
  action: Action;
  result: StoredToolResult;
  /**
   * Set when this dispatch recorded the action as `outcome_unknown` (the tool could not tell whether its
   * call took effect): the caller asks a person to check, with `reason` completing "I can't tell whether
   * X happened: ...".
   */
  unknown?: { code: string; reason: string };
};

/** What one tool execution came to; `unknown` only when the connector could not know the outcome. */
type Executed = { result: StoredToolResult; unknown?: { code: string; reason: string } };

type Refusal = { code: ErrorCode; why: string };

/**
 * The one chokepoint through which every tool runs. Just before executing it re-checks, from the
 * database and not from anything the caller says: the run is still running, the call is approved and
 * unused, the approval covers exactly the stored call, and (for calls no human approved) that the policy
 * still lets it run on its own. Check and approved -> dispatching claim happen in one transaction, so an
 * approval is used at most once and a cancel/reject cannot slip in between.
 */
export class Dispatcher {
  constructor(private readonly deps: DispatcherDeps) {}

  /** Reverts an auto_notify action (see undoAction). */
  undo(actionId: string, userId: string): Promise<UndoResult> {
    return undoAction(this.deps, actionId, userId);
  }

  /**
   * `report` runs inside the transaction that records the result, so the Slack message that reports it
   * (a card update, a notification) commits with it: a crash can delay that message, never lose it.
   */
  async dispatch(
    actionId: string,
    report?: (trx: Db, action: Action, result: StoredToolResult, unknown?: { code: string; reason: string }) => Promise<void>,
    /** `leaseOwner`: the instance advancing the run; the claim is refused if it no longer holds the run's lease. */
    opts: { leaseOwner?: string } = {},
  ): Promise<DispatchResult> {
    const { db, clock } = this.deps;
    const startedAt = clock.now().toISOString();
    const outcome = await db.transaction().execute(async (trx): Promise<{ action: Action; run: Run } | Refusal> => {
      let action = await getAction(trx, actionId);
      if (!action) return { code: 'action_not_found', why: `No action ${actionId}` };
      if (await lockRun(trx, action.run_id)) action = (await getAction(trx, actionId)) ?? action;
      const checked = await this.check(trx, action, opts.leaseOwner);
      if ('code' in checked) return checked;
      const claimed = await transitionAction(trx, action.id, ['approved'], {
        status: 'dispatching',
        dispatch_started_at: startedAt,
        updated_at: startedAt,
      });
      if (!claimed) return { code: 'already_decided', why: `Action ${action.id} was already dispatched or changed` };
      return { action, run: checked.run };
    });

    if (!('action' in outcome)) {
      await this.recordRefusal(actionId, outcome);
      throw new AppError(outcome.code, outcome.why);
    }
    const action = outcome.action;
    if (action.decided_by !== POLICY_ACTOR && action.decided_at) this.deps.metrics?.dispatchStarted(secondsBetween(action.decided_at, startedAt));
    // The tool sees the run as the claim read it, in the transaction that checked it may run.
    const { result, unknown } = await this.execute(action, outcome.run);
    const at = clock.now().toISOString();
    const recorded = await db.transaction().execute(async (trx) => {
      // The run first, as every other transaction that changes a run's actions does (lock order on
      // PostgreSQL): `report` may complete the turn and append to the run's conversation.
      await lockRun(trx, action.run_id);
      const done = await transitionActionReturning(trx, action.id, ['dispatching'], {
        // An unknown outcome is never `failed`: "failed" tells people and the model that nothing happened,
        // which may be untrue. Nothing moves an action out of outcome_unknown, so it is never retried.
        status: unknown ? 'outcome_unknown' : result.is_error ? 'failed' : 'succeeded',
        result_json: JSON.stringify(result),
        dispatched_at: at,
        updated_at: at,
      });
      if (!done) {
        // Someone marked it outcome_unknown meanwhile (another process's recovery). Keep the record of
        // what really happened so a human checking can see it.
        this.deps.logger.error({ actionId: action.id, result: result.content }, 'dispatch finished after the action was marked outcome_unknown');
      } else if (report) {
        await report(trx, done, result, unknown);
      }
      await appendActivity(trx, {
        at,
        teamId: action.team_id,
        runId: action.run_id,
        actionId: action.id,
        actor: 'agent',
        kind: unknown ? 'action_outcome_unknown' : result.is_error ? 'action_failed' : 'action_dispatched',
        detail: unknown ? { tool: action.tool, code: unknown.code, reason: truncate(unknown.reason, 500) } : { tool: action.tool, result: truncate(result.content, 500) },
      });
      return done;
    });
    if (unknown) this.deps.logger.warn({ actionId: action.id, tool: action.tool, code: unknown.code }, `outcome unknown: ${unknown.reason}`);
    // The row as recorded; when another process's recovery got there first, as that left it.
    const updated = recorded ?? (await getAction(db, action.id));
    return { action: updated ?? action, result, ...(unknown && recorded ? { unknown } : {}) };
  }

  /** The refusal, or the run the check read (in the claim's transaction) when the call may go out. */
  private async check(db: Db, action: Action, leaseOwner: string | undefined): Promise<Refusal | { run: Run }> {
    const run = await getRun(db, action.run_id);
    if (!run || run.status !== 'running') return { code: 'invalid_state', why: `Run ${action.run_id} is not running` };
    // Another instance took the run over (this one's lease expired): it decides, not us.
    if (leaseOwner !== undefined && run.lease_owner !== leaseOwner) return { code: 'lease_lost', why: `Run ${action.run_id} is now advanced by another instance` };
    const workspace = await getWorkspace(db, action.team_id);
    if (workspace.disabled) return { code: 'agent_disabled', why: 'The agent is disabled in this workspace' };
    if (action.status !== 'approved') return { code: 'approval_missing', why: `Action ${action.id} is ${action.status}, not approved` };
    if (!action.decided_by || !action.decided_at) return { code: 'approval_missing', why: `Action ${action.id} has no recorded decision` };
    if (callHash(action.tool, action.input_json, action.prepared_json) !== action.input_hash) {
      return { code: 'approval_input_mismatch', why: `Action ${action.id} was changed after it was proposed` };
    }
    if (action.decided_by === POLICY_ACTOR) {
      const decision = await decideFor(db, this.deps.registry, this.deps.queue, action.team_id, action.tool, workspace);
      if (decision.kind !== 'run' && decision.kind !== 'notify') {
        return { code: 'policy_forbids', why: `Policy now requires approval for ${action.tool}` };
      }
    } else if (action.approved_hash !== action.input_hash) {
      return { code: 'approval_input_mismatch', why: `The approval of ${action.id} does not cover the stored call` };
    } else {
      // Two-person approval (or more): the recorded approvals of this exact call by distinct people other
      // than the requester must reach the number its rule asks for, whatever the status says.
      const required = await approvalsAtDecision(db, action.id);
      if (required > 1) {
        const given = await countedApprovals(db, action, run);
        if (given.length < required) return { code: 'approval_missing', why: `Action ${action.id} needs ${required} approvers other than the requester; ${given.length} recorded` };
      }
    }
    return { run };
  }

  private async recordRefusal(actionId: string, refusal: Refusal): Promise<void> {
    const action = await getAction(this.deps.db, actionId);
    this.deps.logger.warn({ actionId, runId: action?.run_id, code: refusal.code }, `dispatch refused: ${refusal.why}`);
    if (!action) return;
    await appendActivity(this.deps.db, {
      at: this.deps.clock.now().toISOString(),
      teamId: action.team_id,
      runId: action.run_id,
      actionId: action.id,
      actor: 'system',
      kind: 'dispatch_refused',
      detail: { tool: action.tool, code: refusal.code, why: refusal.why },
    });
  }

  /**
   * Tool failures are data for the model (is_error results), never exceptions for the loop. A tool that
   * cannot know whether its call took effect throws OutcomeUnknownError; its result says so in the same
   * words as an action interrupted by a restart.
   */
  private async execute(action: Action, run: Run): Promise<Executed> {
    const tool = this.deps.registry.get(action.tool);
    if (!tool) return { result: { content: `The tool ${action.tool} is not available any more.`, is_error: true } };
    const parsed = tool.inputSchema.safeParse(JSON.parse(action.input_json));
    if (!parsed.success) return { result: { content: `Invalid input for ${action.tool}: ${parsed.error.message}`, is_error: true } };
    try {
      const out = await tool.run(parsed.data, toolContext(run, action));
      return { result: { content: out.content, is_error: out.isError === true, ...(out.undoData ? { undo: out.undoData } : {}) } };
    } catch (err) {
      if (err instanceof OutcomeUnknownError) {
        const content =
          `Outcome unknown: ${err.reason}, so it may or may not have happened. ` +
          'It will not be retried automatically; a person has been asked to check. Do not repeat it unless they confirm.';
        return { result: { content, is_error: true }, unknown: { code: err.code, reason: err.reason } };
      }
      if (err instanceof ToolError) return { result: { content: err.message, is_error: true } };
      this.deps.logger.error({ err, actionId: action.id, tool: action.tool }, 'tool threw');
      return { result: { content: `The tool ${action.tool} failed: ${errorMessage(err)}`, is_error: true } };
    }
  }
}

export type UndoResult = { ok: true; content: string } | { ok: false; why: string };

/**
 * Undo goes through the dispatcher too: it is a tool execution. Only a successful auto_notify call of a
 * tool that can revert itself may be undone, once (conditional update on undone_at).
 */
export async function undoAction(deps: DispatcherDeps, actionId: string, userId: string): Promise<UndoResult> {
  const { db, clock, registry } = deps;
  const action = await getAction(db, actionId);
  if (!action) return { ok: false, why: 'That action no longer exists.' };
  const tool = registry.get(action.tool);
  if (action.decision !== 'notify' || action.status !== 'succeeded' || !tool?.undo) {
    return { ok: false, why: 'This action cannot be undone.' };
  }
  if (action.undone_at) return { ok: false, why: `It was already undone by <@${action.undone_by}>.` };
  const at = clock.now().toISOString();
  const res = await db
    .updateTable('actions')
    .set({ undone_at: at, undone_by: userId, updated_at: at })
    .where('id', '=', action.id)
    .where('undone_at', 'is', null)
    .where('status', '=', 'succeeded')
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return { ok: false, why: 'Someone else undid it just now.' };
  const run = await getRun(db, action.run_id);
  const parsed = tool.inputSchema.safeParse(JSON.parse(action.input_json));
  const stored = action.result_json ? (JSON.parse(action.result_json) as { undo?: Record<string, unknown> }) : {};
  let out: { content: string; isError?: boolean };
  if (!run || !parsed.success) out = { content: 'The original call can no longer be read.', isError: true };
  else {
    try {
      out = await tool.undo(parsed.data, { ...toolContext(run, action), undoData: stored.undo ?? {} });
    } catch (err) {
      out = { content: errorMessage(err), isError: true };
    }
  }
  if (out.isError) {
    // Let a failed undo be tried again.
    await db.updateTable('actions').set({ undone_at: null, undone_by: null, updated_at: at }).where('id', '=', action.id).execute();
  }
  await appendActivity(db, {
    at,
    teamId: action.team_id,
    runId: action.run_id,
    actionId: action.id,
    actor: userId,
    kind: out.isError ? 'undo_failed' : 'action_undone',
    detail: { tool: action.tool, result: truncate(out.content, 500) },
  });
  return out.isError ? { ok: false, why: out.content } : { ok: true, content: out.content };
}

/** What a tool sees of its call: the run, the bound prepared facts, and who approved it. */
function toolContext(run: Run, action: Action): ToolRunContext {
  return {
    run: { id: run.id, teamId: run.team_id, channelId: run.channel_id, threadTs: run.thread_ts, requesterId: run.requester_id },
    actionId: action.id,
    prepared: actionPrepared(action),
    approvedBy: action.decided_by && action.decided_by !== POLICY_ACTOR ? action.decided_by : null,
  };
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
