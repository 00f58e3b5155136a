import type { Db } from '../../db/connection.js';
import { appendActivity } from '../../db/repos/activity.js';
import { transitionAction } from '../../db/repos/actions.js';
import { getRun } from '../../db/repos/runs.js';
import type { Action, Run } from '../../db/schema.js';
import { md } from '../../text/mrkdwn.js';
import { describeAction } from '../cards.js';
import { POLICY_ACTOR } from '../dispatcher.js';
import { PRIORITY } from '../outbox.js';
import type { EngineContext } from './context.js';

// A call that may or may not have happened is never retried: it is recorded as such and a person is asked.

/**
 * Records an action left `dispatching` by a process that stopped mid-call as outcome_unknown, with its
 * "please check" message. False when it was settled meanwhile (someone else got there first).
 */
export async function markOutcomeUnknown(ctx: EngineContext, action: Action): Promise<boolean> {
  const at = ctx.now();
  const content =
    'Outcome unknown: the app instance carrying this action out stopped (a restart or a crash) before it finished, so it may or may not have happened. ' +
    'It will not be retried automatically; a person has been asked to check. Do not repeat it unless they confirm.';
  const marked = await ctx.deps.db.transaction().execute(async (trx) => {
    const ok = await transitionAction(trx, action.id, ['dispatching'], {
      status: 'outcome_unknown',
      result_json: JSON.stringify({ content, is_error: true }),
      updated_at: at,
    });
    if (!ok) return false;
    await appendActivity(trx, { at, teamId: action.team_id, runId: action.run_id, actionId: action.id, actor: 'system', kind: 'action_outcome_unknown', detail: { tool: action.tool } });
    const run = await getRun(trx, action.run_id);
    if (run) await queueOutcomeUnknown(ctx, trx, run, action, 'the app stopped (a restart or a crash) while it was in progress');
    return true;
  });
  if (marked) ctx.deps.outbox.wake();
  return marked;
}

/** Queues the "please check" line and the card of an action recorded `outcome_unknown` (same transaction). */
export async function queueOutcomeUnknown(ctx: EngineContext, trx: Db, run: Run, action: Action, why: string): Promise<void> {
  const { outbox, registry } = ctx.deps;
  const desc = describeAction(registry, action);
  await outbox.line(trx, run, md`:warning: *Please check:* I can't tell whether "${desc.summary}" happened: ${why}. I will not retry it automatically.`, PRIORITY.decision);
  if (action.decided_by !== POLICY_ACTOR) await outbox.updateCard(trx, run, action.id);
  await outbox.updateTaskMessage(trx, run, 'soon');
}

/** An action left `dispatching` by the run's previous lease holder (gone) may or may not have happened. */
export async function settleInterrupted(ctx: EngineContext, runId: string): Promise<void> {
  const left = await ctx.deps.db.selectFrom('actions').selectAll().where('run_id', '=', runId).where('status', '=', 'dispatching').execute();
  for (const action of left) await markOutcomeUnknown(ctx, action);
}
