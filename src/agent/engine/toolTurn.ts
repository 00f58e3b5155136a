import { listTurnActions } from '../../db/repos/actions.js';
import type { ConversationMessage } from '../../db/repos/messages.js';
import { getRun, lockRun, transitionRun } from '../../db/repos/runs.js';
import type { Run } from '../../db/schema.js';
import { POLICY_ACTOR } from '../dispatcher.js';
import { cardKey } from '../outbox.js';
import type { EngineContext, StepResult } from './context.js';
import { dispatchAndReport } from './dispatch.js';
import { appendToolResults } from './toolResults.js';
import { stopForQueue } from './endings.js';
import { markOutcomeUnknown } from './outcomeUnknown.js';

/**
 * The tool calls of an assistant turn: automatic ones go out, the rest get cards and the run waits;
 * once every call of the turn has a result, they go back to the model as one message.
 */
export async function processTurn(ctx: EngineContext, run: Run, turn: ConversationMessage): Promise<StepResult> {
  const { db, outbox } = ctx.deps;
  let actions = await listTurnActions(db, run.id, turn.seq);

  // Anything still `dispatching` here was left by a process that died mid-call.
  for (const a of actions.filter((x) => x.status === 'dispatching')) await markOutcomeUnknown(ctx, a);

  if (actions.some((a) => a.decision === 'refuse')) {
    await stopForQueue(ctx, run, actions);
    return 'idle';
  }

  for (const a of actions.filter((x) => x.status === 'approved' && x.decided_by === POLICY_ACTOR)) {
    // The result that settles the turn's last call also carried the tool results to the conversation.
    if (await dispatchAndReport(ctx, run, a)) return 'continue';
  }

  actions = await listTurnActions(db, run.id, turn.seq);
  if (actions.some((a) => a.status === 'pending')) {
    const route = await ctx.deps.cardRoute(run.team_id);
    // Cards are queued and the run suspended in one transaction: a card can only become visible (and
    // clickable) once the run is already waiting for it.
    const resume = await db.transaction().execute(async (trx) => {
      await lockRun(trx, run.id);
      const pending = (await listTurnActions(trx, run.id, turn.seq)).filter((a) => a.status === 'pending');
      if (pending.length === 0) return true; // decided meanwhile: carry on
      const queued = new Set(
        (await trx.selectFrom('slack_outbox').select('msg_key').where('msg_key', 'in', pending.map((a) => cardKey(a.id))).where('op', '=', 'post').execute()).map((r) => r.msg_key),
      );
      const fresh = (await getRun(trx, run.id)) ?? run;
      for (const a of pending) if (!queued.has(cardKey(a.id)) && !a.card_ts) await outbox.postCard(trx, fresh, a.id, route);
      if (await transitionRun(trx, run.id, ['running'], { status: 'awaiting_approval', updated_at: ctx.now() })) {
        await outbox.updateTaskMessage(trx, run, 'now');
      }
      return false;
    });
    outbox.wake();
    return resume ? 'continue' : 'idle';
  }

  // Every card of the turn is decided: approved calls go out together (all-or-nothing per turn).
  for (const a of actions.filter((x) => x.status === 'approved')) {
    if (await dispatchAndReport(ctx, run, a)) return 'continue';
  }

  // Reached when no dispatch of this step settled the turn (a refusal, a call settled elsewhere, a step
  // resumed after a restart): the results go back to the model in a transaction of their own.
  const appended = await db.transaction().execute(async (trx) => {
    await lockRun(trx, run.id);
    return appendToolResults(ctx, trx, run.id, turn.seq);
  });
  return appended ? 'continue' : 'idle';
}
