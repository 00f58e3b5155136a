import { requesterPing } from './deciders.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { getAction, listTurnActions, transitionAction } from '../db/repos/actions.js';
import { appendActivity } from '../db/repos/activity.js';
import { getRun, lockRun, transitionRun } from '../db/repos/runs.js';
import { getWorkspace } from '../db/repos/workspace.js';
import type { Action, Run } from '../db/schema.js';
import { AppError, errorMessage } from '../errors.js';
import { applyEdit, changesOf, editableFields, type FieldChange } from './edits.js';
import { loadEditChoices, type LoadedChoices } from './editChoices.js';
import { callHash } from './hash.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { CallDescription } from '../tools/types.js';
import { describeAction } from './cards.js';
import type { RunEngine } from './engine.js';
import type { AdminCheck } from './admins.js';
import type { TrustService } from './trust.js';
import type { Dispatcher, UndoResult } from './dispatcher.js';
import type { Outbox } from './outbox.js';
import { PRIORITY } from './outbox.js';
import { slackDateText } from './text.js';
import { md, mention, trusted } from '../text/mrkdwn.js';
import { actionTypeFor } from './externalTrust.js';
import { code } from '../text/mrkdwn.js';
import { organisationRefusal, type Clicker } from './organisation.js';
import { Visibility, type Viewer } from './visibility.js';
import type { MetricsSink } from '../metrics/sink.js';
import { secondsBetween } from '../metrics/time.js';
import { approvalNeeds, escalatedApprovers, recordRequiredApprovals, requiredApprovals } from './approvalPolicy.js';
import type { Approvers } from '../db/repos/trust.js';
import { recordOneApproval, type ApprovalStep } from './multiApproval.js';

export type Decision =
  | { outcome: 'approved'; action: Action; waitingFor: number; remembered: boolean }
  | { outcome: 'rejected'; action: Action }
  | { outcome: 'already_decided'; action: Action }
  | { outcome: 'not_allowed'; action: Action; why: string }
  /** Several approvers needed: this approval was counted; `given` of `required` so far. */
  | { outcome: 'counted'; action: Action; given: number; required: number }
  /** Several approvers needed and this person had already approved this exact call: counted once. */
  | { outcome: 'already_approved'; action: Action; given: number; required: number }
  /** Still waiting, but no longer the call the clicker was shown (it was edited since): nothing counted. */
  | { outcome: 'changed'; action: Action };

/** An edit that fails the tool's own checks: nothing changed; the errors go back to the dialog's fields. */
export type EditDecision = Decision | { outcome: 'invalid'; action: Action; errors: Record<string, string> };

/** What an approval with an edit stores instead of the proposed call. */
interface ApprovedEdit {
  inputJson: string;
  preparedJson: string | null;
  hash: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  changes: FieldChange[];
}

export interface ApprovalDeps {
  db: Db;
  clock: Clock;
  registry: ToolRegistry;
  engine: RunEngine;
  trust: TrustService;
  admins: AdminCheck;
  dispatcher: Dispatcher;
  outbox: Outbox;
  metrics?: MetricsSink;
}

/**
 * Approve and Reject. Both claim the action with a conditional update on `pending`, so of any number of
 * concurrent clicks exactly one decides; the others are told who did.
 */
export class Approvals {
  private readonly visibility: Visibility;

  constructor(private readonly deps: ApprovalDeps) {
    this.visibility = new Visibility(deps.admins);
  }

  async approve(input: { actionId: string; userId: string; remember?: boolean; clicker?: Clicker; edit?: ApprovedEdit; expectHash?: string }): Promise<Decision> {
    const { db, clock } = this.deps;
    const action = await this.mustGetAction(input.actionId);
    if (action.status !== 'pending') return { outcome: 'already_decided', action };
    const needs = await approvalNeeds(db, action);
    let required = needs.required;
    const refusal = await this.refusal(action, input.userId, input.remember === true, input.clicker, { approving: true, ...needs });
    if (refusal) return refusal;
    const at = clock.now().toISOString();
    // What the ack needs (the approved action, how many of its turn still wait) is read inside the
    // transaction that decides: nothing is read again between the commit and the answer to the click.
    const won = await db.transaction().execute(async (trx): Promise<false | 'changed' | ApprovalStep | { fresh: Action; waitingFor: number }> => {
      await lockRun(trx, action.run_id);
      const run = await getRun(trx, action.run_id);
      if (!run || (run.status !== 'awaiting_approval' && run.status !== 'running')) return false;
      // An admin may have raised the number since the check above: the count uses the rule as it is now.
      required = Math.max(required, await requiredApprovals(trx, action));
      // An edit replaces the call, and a click approves it, only if it is still the one the dialog or card
      // showed. With one approver the claim below checks it; a counted click is checked first.
      if (required > 1 && input.expectHash !== undefined && (await getAction(trx, action.id))?.input_hash !== input.expectHash) return 'changed' as const;
      // Several approvers needed: this click is counted, and only the one that completes the count goes on
      // to approve the call below.
      let countedHash: string | undefined;
      if (required > 1) {
        const step = await recordOneApproval(trx, { action, run, userId: input.userId, required, at, ...(input.edit ? { edit: input.edit } : {}) });
        if (step.kind !== 'complete') {
          if (step.kind === 'counted') await this.deps.outbox.updateCard(trx, run, action.id);
          return step;
        }
        countedHash = step.hash;
      }
      const edit = input.edit;
      const shown = input.expectHash !== undefined ? { inputHash: input.expectHash } : {};
      const claimed = await transitionAction(
        trx,
        action.id,
        ['pending'],
        {
          status: 'approved',
          decided_by: input.userId,
          decided_at: at,
          // The approval covers exactly what the card showed (or what the approver edited it to): its hash.
          approved_hash: edit ? edit.hash : (countedHash ?? action.input_hash),
          ...(edit ? { input_json: edit.inputJson, prepared_json: edit.preparedJson, input_hash: edit.hash } : {}),
          updated_at: at,
        },
        shown,
      );
      // Decided meanwhile, or (with a hash) changed since it was shown: the caller reads which.
      if (!claimed) return input.expectHash !== undefined ? ('changed' as const) : false;
      // The number the approval was given under is what the dispatcher checks (a rule raised later applies
      // to cards still waiting, not to a call already approved).
      if (required > 1) await recordRequiredApprovals(trx, { action, required, at });
      if (edit && required === 1) {
        // Both versions are kept: what the model proposed and what the human approved.
        await appendActivity(trx, {
          at,
          teamId: action.team_id,
          runId: action.run_id,
          actionId: action.id,
          actor: input.userId,
          kind: 'action_edited',
          detail: { tool: action.tool, before: edit.before, after: edit.after, changes: edit.changes },
        });
      }
      await appendActivity(trx, {
        at,
        teamId: action.team_id,
        runId: action.run_id,
        actionId: action.id,
        actor: input.userId,
        kind: 'approved',
        detail: { tool: action.tool, remember: input.remember === true, ...(input.edit ? { edited: true } : {}), ...(required > 1 ? { required } : {}) },
      });
      // The last decision of the turn resumes the run in the same transaction, so no failure after the
      // claim can leave an approved run waiting for nothing.
      const turn = await listTurnActions(trx, action.run_id, action.message_seq);
      const stillPending = turn.filter((a) => a.status === 'pending').length;
      if (stillPending === 0) await transitionRun(trx, action.run_id, ['awaiting_approval'], { status: 'running', updated_at: at });
      // The card says who approved, committed with the approval; the other cards of the step say how many
      // approvals are still missing.
      // The last approval of a step: the action runs at once, so the card waits a moment to show its result.
      await this.deps.outbox.updateCard(trx, run, action.id, { settle: stillPending === 0 });
      if (stillPending > 0) for (const other of turn.filter((a) => a.status === 'approved' && a.id !== action.id)) await this.deps.outbox.updateCard(trx, run, other.id);
      return { fresh: turn.find((a) => a.id === action.id) ?? action, waitingFor: stillPending };
    });
    if (won === false) return { outcome: 'already_decided', action: (await getAction(db, action.id)) ?? action };
    if (won === 'changed') {
      const current = (await getAction(db, action.id)) ?? action;
      return current.status === 'pending' ? { outcome: 'changed', action: current } : { outcome: 'already_decided', action: current };
    }
    if (!('fresh' in won)) {
      // A click of a call that needs several approvers, counted (or repeated) without approving it yet.
      const current = (await getAction(db, action.id)) ?? action;
      if (won.kind === 'counted') this.deps.outbox.wake();
      return won.kind === 'again'
        ? { outcome: 'already_approved', action: current, given: won.given, required }
        : won.kind === 'counted'
          ? { outcome: 'counted', action: current, given: won.given, required }
          : { outcome: 'already_decided', action: current };
    }
    const { fresh, waitingFor } = won;
    this.deps.metrics?.approvalDecided('approved', secondsBetween(action.created_at, at));
    this.deps.outbox.wake();

    if (waitingFor === 0) {
      // The run resumes once the click has been answered: the acknowledgement goes first.
      setImmediate(() => void this.deps.engine.kick(action.run_id));
    }
    let remembered = false;
    if (input.remember) {
      // "Approve & remember": this call is approved, and the action type runs and notifies from now on.
      // A failure here must not undo or block the approval itself.
      try {
        await this.deps.trust.setMode(action.team_id, input.userId, action.tool, 'auto_notify');
        remembered = true;
      } catch {
        remembered = false;
      }
    }
    return { outcome: 'approved', action: fresh, waitingFor, remembered };
  }

  /**
   * Edit & approve: the dialog's values are put into the stored call, checked with the tool's own schema
   * (and its prepare step, e.g. a deal stage that must exist), and approved in one step by someone who may
   * approve it. Nothing changes when the edit is invalid, the editor may not decide, or the call was
   * decided or changed since the dialog opened (`expectHash`).
   */
  async editAndApprove(input: { actionId: string; userId: string; values: Record<string, string | null | undefined>; expectHash: string; clicker?: Clicker; keep?: readonly string[] }): Promise<EditDecision> {
    const action = await this.mustGetAction(input.actionId);
    if (action.status !== 'pending') return { outcome: 'already_decided', action };
    if (action.input_hash !== input.expectHash) return { outcome: 'changed', action };
    const refusal = await this.refusal(action, input.userId, false, input.clicker, { approving: true });
    if (refusal) return refusal;
    const fields = editableFields(action.tool);
    const tool = this.deps.registry.get(action.tool);
    if (!fields || !tool) return { outcome: 'not_allowed', action, why: `${code(action.tool).value} calls cannot be edited.` };
    const before = JSON.parse(action.input_json) as Record<string, unknown>;
    const parsed = tool.inputSchema.safeParse(applyEdit(action.tool, before, input.values, input.keep));
    const first = fields[0]!.key;
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const issue of parsed.error.issues) {
        const key = fields.some((f) => f.key === issue.path[0]) ? String(issue.path[0]) : first;
        errors[key] ??= issue.message.slice(0, 150);
      }
      return { outcome: 'invalid', action, errors };
    }
    const after = parsed.data as Record<string, unknown>;
    let changes = changesOf(action.tool, before, after);
    if (changes.length === 0) return this.approve({ actionId: action.id, userId: input.userId, ...(input.clicker ? { clicker: input.clicker } : {}), expectHash: input.expectHash });
    let preparedJson = action.prepared_json;
    if (tool.prepare) {
      const run = await getRun(this.deps.db, action.run_id);
      if (!run) throw new AppError('run_not_found', `No run ${action.run_id}`);
      try {
        const prepared = await tool.prepare(after, { run: { id: run.id, teamId: run.team_id, channelId: run.channel_id, threadTs: run.thread_ts, requesterId: run.requester_id } });
        preparedJson = JSON.stringify(prepared);
        // Described by what the call resolves to (a stage's label and id), not only by what was typed.
        changes = changesOf(action.tool, before, after, { before: action.prepared_json ? (JSON.parse(action.prepared_json) as Record<string, unknown>) : {}, after: prepared });
      } catch (err) {
        const changed = fields.find((f) => changes.some((c) => c.field === f.label))?.key ?? first;
        return { outcome: 'invalid', action, errors: { [changed]: errorMessage(err).slice(0, 150) } };
      }
    }
    const inputJson = JSON.stringify(after);
    const hash = callHash(action.tool, inputJson, preparedJson);
    return this.approve({
      actionId: action.id,
      userId: input.userId,
      ...(input.clicker ? { clicker: input.clicker } : {}),
      expectHash: input.expectHash,
      edit: { inputJson, preparedJson, hash, before, after, changes },
    });
  }

  /** Rejecting one call cancels the whole run: no further model call, no other call of the run. */
  async reject(input: { actionId: string; userId: string; note: string | null; clicker?: Clicker }): Promise<Decision> {
    const { db, clock } = this.deps;
    const action = await this.mustGetAction(input.actionId);
    if (action.status !== 'pending') return { outcome: 'already_decided', action };
    const refusal = await this.refusal(action, input.userId, false, input.clicker);
    if (refusal) return refusal;
    const at = clock.now().toISOString();
    const note = input.note?.trim() ? input.note.trim().slice(0, 2000) : null;
    let runCancelled = false;
    const cancelled = await db.transaction().execute(async (trx) => {
      await lockRun(trx, action.run_id);
      const claimed = await transitionAction(trx, action.id, ['pending'], {
        status: 'rejected',
        decided_by: input.userId,
        decided_at: at,
        decision_note: note,
        result_json: JSON.stringify({ content: `Rejected by a human${note ? `: ${note}` : ''}.`, is_error: true }),
        updated_at: at,
      });
      if (!claimed) return null;
      runCancelled = await transitionRun(trx, action.run_id, ['running', 'awaiting_approval'], {
        status: 'cancelled',
        error_code: 'rejected',
        error_message: `Rejected by <@${input.userId}>${note ? `: ${note}` : ''}`,
        finished_at: at,
        updated_at: at,
      });
      const others = (await trx.selectFrom('actions').selectAll().where('run_id', '=', action.run_id).where('status', 'in', ['pending', 'approved']).execute()) as Action[];
      for (const other of others) {
        await transitionAction(trx, other.id, ['pending', 'approved'], {
          status: 'cancelled',
          decision_note: `Cancelled: another action of this run was rejected by <@${input.userId}>.`,
          result_json: JSON.stringify({ content: 'Cancelled because another action was rejected.', is_error: true }),
          updated_at: at,
        });
      }
      await appendActivity(trx, {
        at,
        teamId: action.team_id,
        runId: action.run_id,
        actionId: action.id,
        actor: input.userId,
        kind: 'rejected',
        detail: { tool: action.tool, note, cancelledActions: others.map((o) => o.id) },
      });
      await appendActivity(trx, { at, teamId: action.team_id, runId: action.run_id, actor: input.userId, kind: 'run_cancelled', detail: { reason: 'rejected' } });
      // The closed cards, the thread line and the task message are queued with the decision.
      const run = await getRun(trx, action.run_id);
      if (run) {
        const { outbox } = this.deps;
        await outbox.updateCard(trx, run, action.id);
        for (const other of others) await outbox.updateCard(trx, run, other.id);
        const summary = describeAction(this.deps.registry, action).summary;
        await outbox.line(
          trx,
          run,
          md`:no_entry: ${requesterPing(run, input.userId)}${mention(input.userId)} rejected "${summary}"${note ? md` with the note: "${note}"` : trusted(' (no note)')}. ${runCancelled ? 'The run is cancelled and nothing else will be done.' : 'The run had already ended.'} Use \`/agent rerun ${action.run_id} ${'<more context>'}\` to try again.`,
          PRIORITY.decision,
        );
        await outbox.updateTaskMessage(trx, run, 'now');
      }
      return others;
    });
    const fresh = (await getAction(db, action.id)) ?? action;
    if (!cancelled) return { outcome: 'already_decided', action: fresh };
    this.deps.metrics?.approvalDecided('rejected', secondsBetween(action.created_at, at));
    this.deps.outbox.wake();
    return { outcome: 'rejected', action: fresh };
  }

  /**
   * Who may decide: people of the run's own organisation (when the click says who they are), the action
   * type's approvers and the self-approval setting. "Approve & remember" also needs an admin and a
   * non-hard-floor action. A refused click changes nothing and is logged.
   */
  private async refusal(
    action: Action,
    userId: string,
    remember: boolean,
    clicker?: Clicker,
    /**
     * `approving`: the click would count as an approval (two-person rules apply to it). `required` and
     * `escalated`, when given, are the caller's own read of the call's approval needs (approvalNeeds).
     */
    opts: { approving?: boolean; required?: number; escalated?: Approvers | undefined } = {},
  ): Promise<Decision | undefined> {
    const run = await getRun(this.deps.db, action.run_id);
    if (!run) throw new AppError('run_not_found', `No run ${action.run_id}`);
    let why: string | undefined;
    if (clicker) why = await organisationRefusal(this.deps.db, run.team_id, clicker);
    const workspace = await getWorkspace(this.deps.db, action.team_id);
    if (!why && workspace.disabled) why = 'The agent is disabled in this workspace; decisions wait until an admin runs `/agent enable`.';
    if (!why && remember) {
      const type = actionTypeFor(this.deps.registry, action.tool);
      if (!type || type.hardFloor || this.deps.registry.get(action.tool)?.hardFloor) why = `${code(action.tool).value} always needs approval, so it cannot be remembered.`;
      else if (!(await this.deps.admins.isAdmin(action.team_id, userId))) why = 'Only admins can use "Approve & remember": it changes the workspace\'s trust settings. You can still Approve this one.';
    }
    const required = opts.required ?? (opts.approving || remember ? await requiredApprovals(this.deps.db, action) : 1);
    if (!why && remember && required > 1) why = `${code(action.tool).value} needs ${required} different approvers, so it cannot be remembered. You can still Approve this one.`;
    // Two-person approval: the requester never counts, even where self-approval is on.
    if (!why && opts.approving && required > 1 && run.requester_id === userId) {
      why = `${code(action.tool).value} needs ${required} approvers other than the requester, and you asked for this run, so your approval cannot count. You can still Reject it.`;
    }
    if (!why) {
      // After an escalation its backup approvers may decide too (stored on the waiting call).
      const escalated = 'escalated' in opts ? opts.escalated : await escalatedApprovers(this.deps.db, action.id);
      const check = await this.deps.trust.canApprove(run, action.tool, userId, escalated, workspace);
      if (!check.ok) why = check.why;
    }
    if (!why) return undefined;
    await appendActivity(this.deps.db, {
      at: this.deps.clock.now().toISOString(),
      teamId: action.team_id,
      runId: action.run_id,
      actionId: action.id,
      actor: userId,
      kind: 'decision_refused',
      detail: { tool: action.tool, why, remember, ...(clicker ? { org: clicker.orgId } : {}) },
    });
    return { outcome: 'not_allowed', action, why };
  }

  /** Undo of an auto_notify action: the requester, or anyone allowed to approve that action type. */
  async undo(actionId: string, userId: string, clicker?: Clicker): Promise<UndoResult> {
    const action = await this.mustGetAction(actionId);
    const run = await getRun(this.deps.db, action.run_id);
    if (!run) return { ok: false, why: 'The run no longer exists.' };
    const foreign = clicker ? await organisationRefusal(this.deps.db, run.team_id, clicker) : undefined;
    if (foreign) {
      await appendActivity(this.deps.db, { at: this.deps.clock.now().toISOString(), teamId: run.team_id, runId: run.id, actionId, actor: userId, kind: 'decision_refused', detail: { tool: action.tool, why: foreign, undo: true, org: clicker?.orgId ?? null } });
      return { ok: false, why: foreign };
    }
    if (run.requester_id !== userId) {
      const check = await this.deps.trust.canApprove(run, action.tool, userId);
      if (!check.ok) return { ok: false, why: check.why };
    }
    const result = await this.deps.dispatcher.undo(actionId, userId);
    if (result.ok) {
      // The notification loses its Undo button and says who undid it (queued even if not yet posted).
      const summary = describeAction(this.deps.registry, action).summary;
      await this.deps.outbox.updateNotice(this.deps.db, run, action.id, md`:leftwards_arrow_with_hook: ~${summary}~ — undone by ${mention(userId)} ${trusted(slackDateText(this.deps.clock.now().toISOString()))}. ${result.content}`);
      this.deps.outbox.wake();
    }
    return result;
  }

  /**
   * Checks a click before anything else happens (the Reject dialog opens, an approval is claimed): the
   * clicker's organisation, then who may decide. The refusal is logged like any other.
   */
  async precheck(actionId: string, userId: string, opts: { clicker?: Clicker; remember?: boolean; approving?: boolean } = {}): Promise<Decision | undefined> {
    const action = await this.mustGetAction(actionId);
    if (action.status !== 'pending') return { outcome: 'already_decided', action };
    return this.refusal(action, userId, opts.remember === true, opts.clicker, { approving: opts.approving === true });
  }

  /** The lists the Edit dialog offers for this call's pick-from-a-list fields (read from the tool now). */
  editChoices(action: Action): Promise<LoadedChoices> {
    return loadEditChoices(this.deps.registry, action);
  }

  /** For the "View full" modal: the exact content of a call as its card describes it. */
  async describe(actionId: string): Promise<{ action: Action; run: Run | undefined; description: CallDescription }> {
    const action = await this.mustGetAction(actionId);
    const run = await getRun(this.deps.db, action.run_id);
    return { action, run, description: describeAction(this.deps.registry, action) };
  }

  /**
   * "View full" for someone who may see it: in the card's channel or the run's, the requester, an admin.
   * Anyone else learns only where to look.
   */
  async viewFull(actionId: string, viewer: Viewer): Promise<{ action: Action; run: Run; description: CallDescription }> {
    const { action, run, description } = await this.describe(actionId);
    if (!run) throw new AppError('run_not_found', `No run ${action.run_id}`);
    if (!(await this.visibility.canSee(run, viewer, [action.card_channel]))) {
      throw new AppError('not_allowed', `This card's full content is shown in the channel of its card or run, to the run's requester and to admins.`);
    }
    return { action, run, description };
  }

  async getAction(actionId: string): Promise<Action> {
    return this.mustGetAction(actionId);
  }

  private async mustGetAction(actionId: string): Promise<Action> {
    const action = await getAction(this.deps.db, actionId);
    if (!action) throw new AppError('action_not_found', `No action ${actionId}`);
    return action;
  }
}
