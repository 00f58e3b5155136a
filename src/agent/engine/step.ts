import { lastMessage, listMessages } from '../../db/repos/messages.js';
import { getRun } from '../../db/repos/runs.js';
import { getWorkspace } from '../../db/repos/workspace.js';
import { AppError, errorMessage } from '../../errors.js';
import { shouldContinue } from '../steering.js';
import type { EngineContext, StepResult } from './context.js';
import { failRun, stopRun } from './endings.js';
import { callModel, finish } from './modelTurn.js';
import { processTurn } from './toolTurn.js';

/** Steps the run until it is idle, or (without `allowModel`) until its next step is a model call. */
export async function advance(ctx: EngineContext, runId: string, allowModel: boolean): Promise<'idle' | 'model'> {
  // A bound on steps per kick guards against a logic error spinning forever; real runs stop far earlier
  // (turn caps, approvals).
  for (let i = 0; i < 1000 && !ctx.state.stopped; i++) {
    await ctx.deps.foreground?.turn();
    if (ctx.state.stopped) return 'idle';
    let result: StepResult;
    try {
      result = await step(ctx, runId, allowModel);
    } catch (err) {
      ctx.deps.logger.error({ err, runId }, 'run step failed unexpectedly');
      await failRun(ctx, runId, 'internal_error', `Something went wrong inside the app: ${errorMessage(err)}`);
      return 'idle';
    }
    if (result !== 'continue') return result;
  }
  return 'idle';
}

/**
 * One step, decided from what is in the database: carry out the last turn's tool calls, finish, or
 * call the model. Nothing from an earlier step is trusted to still hold.
 */
async function step(ctx: EngineContext, runId: string, allowModel: boolean): Promise<StepResult> {
  const { db } = ctx.deps;
  const run = await getRun(db, runId);
  if (!run || run.status !== 'running') return 'idle';
  // Our lease expired and another instance took the run: it carries on, not us.
  if (run.lease_owner !== ctx.owner) return 'idle';
  const workspace = await getWorkspace(db, run.team_id);
  if (workspace.disabled) {
    await stopRun(ctx, run, 'agent_disabled', `The agent was disabled by an admin${workspace.disabledReason ? `: ${workspace.disabledReason}` : ''}. This run stopped.`);
    return 'idle';
  }
  // The latest message decides the step; the whole conversation is read only for a model call.
  const last = await lastMessage(db, run.id);
  if (!last) throw new AppError('invalid_state', `Run ${run.id} has no messages`);
  if (last.role === 'assistant') {
    if (last.stopReason === 'tool_use') return processTurn(ctx, run, last);
    // A requester's reply to a finished turn is a new turn of the same run (caps checked as always).
    if (last.stopReason !== 'pause_turn' && !(await shouldContinue(db, run.id))) return finish(ctx, run, last);
  }
  if (!allowModel) return 'model';
  return callModel(ctx, run, await listMessages(db, run.id), workspace);
}
