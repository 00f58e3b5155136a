import type { Db } from '../../db/connection.js';
import { transitionAction } from '../../db/repos/actions.js';
import type { Action, Run } from '../../db/schema.js';
import { errorMessage, isAppError } from '../../errors.js';
import { findActionType } from '../../policy/catalog.js';
import { md, mention } from '../../text/mrkdwn.js';
import { describeAction } from '../cards.js';
import { POLICY_ACTOR } from '../dispatcher.js';
import { PRIORITY } from '../outbox.js';
import type { EngineContext } from './context.js';
import { queueOutcomeUnknown } from './outcomeUnknown.js';
import { appendToolResults } from './toolResults.js';

/**
 * Carries out one approved call through the dispatcher and queues what people see about it. A refusal
 * by the dispatcher is handled here; any other error propagates and fails the step. True when the
 * transaction that recorded the result also settled the turn and appended its results to the
 * conversation (the step goes on to the next model call).
 */
export async function dispatchAndReport(ctx: EngineContext, run: Run, action: Action): Promise<boolean> {
  const { outbox, dispatcher, db, logger } = ctx.deps;
  try {
    // What people see about the result is queued in the transaction that records it, and when it is the
    // turn's last call, the turn's results go back to the conversation in that transaction too.
    let appended = false;
    ctx.state.dispatching.add(run.id);
    try {
      await dispatcher.dispatch(
        action.id,
        async (trx, done, result, unknown) => {
          await reportDispatch(ctx, trx, run, done, result, unknown);
          appended = await appendToolResults(ctx, trx, run.id, done.message_seq);
        },
        { leaseOwner: ctx.owner },
      );
    } finally {
      ctx.state.dispatching.delete(run.id);
    }
    outbox.wake();
    return appended;
  } catch (err) {
    // Anything that is not a refusal happened after the claim (e.g. the database failed after the tool
    // ran): let the step fail loudly; the action stays `dispatching` and becomes outcome_unknown.
    if (!isAppError(err)) throw err;
    if (err.code === 'policy_forbids' && action.decided_by === POLICY_ACTOR) {
      // The policy changed (a pause, a stricter mode) between proposal and dispatch: the call now needs a
      // human, so it goes back to pending and gets a card like any other.
      await transitionAction(db, action.id, ['approved'], { status: 'pending', decision: 'ask', decided_by: null, decided_at: null, approved_hash: null, updated_at: ctx.now() });
      return false;
    }
    if (err.code === 'approval_input_mismatch' || err.code === 'approval_missing') {
      // The stored call no longer matches its approval: it is never executed, and the model hears why.
      const content = `Not executed: ${err.message}. The approval did not cover this exact call.`;
      await db.transaction().execute(async (trx) => {
        if (await transitionAction(trx, action.id, ['approved'], { status: 'failed', result_json: JSON.stringify({ content, is_error: true }), updated_at: ctx.now() })) {
          await outbox.line(trx, run, md`:warning: ${content}`, PRIORITY.decision);
          await outbox.updateCard(trx, run, action.id);
        }
      });
      outbox.wake();
      return false;
    }
    // Other refusals (the run was cancelled or stopped meanwhile, someone else dispatched it) need nothing.
    logger.warn({ err: errorMessage(err), actionId: action.id, runId: run.id }, 'dispatch not performed');
    return false;
  }
}

/** Queues what people see about a dispatched call, inside the transaction that records its result. */
async function reportDispatch(ctx: EngineContext, trx: Db, run: Run, action: Action, result: { content: string; is_error?: boolean }, unknown?: { reason: string }): Promise<void> {
  const { outbox, registry } = ctx.deps;
  if (unknown) {
    // The tool could not tell whether its call took effect: reported like a crash mid-dispatch.
    await queueOutcomeUnknown(ctx, trx, run, action, unknown.reason);
    return;
  }
  if (action.decided_by !== POLICY_ACTOR) {
    // Approved by a person: the card itself says what happened (no extra thread line).
    await outbox.updateCard(trx, run, action.id);
    await outbox.updateTaskMessage(trx, run, 'soon');
    return;
  }
  const desc = describeAction(registry, action);
  if (action.decision === 'notify' && !result.is_error) {
    // auto_notify: say exactly what was done, to the requester, with Undo where the tool can revert.
    const undoable = findActionType(action.tool)?.reversible === true && registry.get(action.tool)?.undo !== undefined;
    const text = md`:bell: ${mention(run.requester_id)} I did this on my own (auto-notify): *${desc.summary}*. ${result.content.slice(0, 500)}`;
    await outbox.notice(trx, run, action.id, text, undoable);
    return;
  }
  // full_auto steps show on the task message; a failure the requester should know about too.
  await outbox.updateTaskMessage(trx, run, 'soon');
}
