import { appendActivity } from '../../db/repos/activity.js';
import type { ConversationMessage } from '../../db/repos/messages.js';
import { transitionRun } from '../../db/repos/runs.js';
import type { Run } from '../../db/schema.js';
import type { WorkspaceView } from '../../db/repos/workspace.js';
import { errorMessage } from '../../errors.js';
import { trusted } from '../../text/mrkdwn.js';
import { reasoningOf } from '../cards.js';
import { doneNote } from '../deciders.js';
import { ModelCallError, type ModelResponse } from '../modelClient.js';
import { costUsd, priceFor } from '../pricing.js';
import { continuesInstead, takePendingReplies, toApiMessages } from '../steering.js';
import type { EngineContext, StepResult } from './context.js';
import { endRun, failRun, stopForCap } from './endings.js';
import { recordModelCall } from './recordModelCall.js';
import { runTools } from '../toolList.js';

/** One model call of a run (caps checked first), its record, and what the stop reason means for the run. */
export async function callModel(ctx: EngineContext, run: Run, messages: ConversationMessage[], workspace?: WorkspaceView): Promise<StepResult> {
  const { settings, db, caps, model, logger } = ctx.deps;
  const capCheck = await caps.check(run, workspace);
  if (!capCheck.ok) {
    await stopForCap(ctx, run, capCheck);
    return 'idle';
  }

  // Replies written in the thread since the last call join the conversation now.
  messages = await takePendingReplies(db, run.id, messages, ctx.now());
  const nextSeq = (messages.at(-1)?.seq ?? -1) + 1;
  let maxTokens = settings.maxTokens;
  for (let attempt = 0; ; attempt++) {
    const started = Date.now();
    let response: ModelResponse;
    try {
      response = await model.create({
        model: run.model,
        maxTokens,
        system: run.system_prompt,
        tools: runTools(run.tools_json) as unknown[],
        messages: toApiMessages(messages),
      });
    } catch (err) {
      const message = err instanceof ModelCallError ? err.message : `Could not call Claude: ${errorMessage(err)}`;
      const text = `${message}. The run stopped here; nothing was lost. Retry resumes from the last completed step (no tool runs twice), or use \`/agent rerun ${run.id}\`.`;
      await endRun(ctx, run.id, 'failed', 'model_call_failed', text, { announce: 'retry' });
      return 'idle';
    }
    const cost = costUsd(run.model, response.usage);
    if (!priceFor(run.model).known && !ctx.state.warnedModels.has(run.model)) {
      ctx.state.warnedModels.add(run.model);
      logger.warn({ model: run.model }, 'no price known for this model: spend is counted at the most expensive known rate');
    }
    const truncatedToolCall = response.stopReason === 'max_tokens' && response.content.some((b) => b.type === 'tool_use');
    if (truncatedToolCall && attempt === 0) {
      // A tool call cut off mid-input cannot be executed; pay for it, and ask once more with room to finish.
      const kept = await recordModelCall(ctx, { run, response, cost, durationMs: Date.now() - started, content: null, nextSeq });
      if (!kept) return 'idle';
      run = { ...run, spend_usd: run.spend_usd + cost, turns: run.turns + 1 };
      maxTokens = settings.maxTokensRetry;
      continue;
    }
    const seq = await recordModelCall(ctx, { run, response, cost, durationMs: Date.now() - started, content: response.content, nextSeq, truncated: truncatedToolCall });
    if (seq === null) return 'idle';
    return afterModelCall(ctx, { ...run, spend_usd: run.spend_usd + cost, turns: run.turns + 1 }, response, seq, truncatedToolCall);
  }
}

async function afterModelCall(ctx: EngineContext, run: Run, response: ModelResponse, seq: number, truncatedToolCall: boolean): Promise<StepResult> {
  const stop = response.stopReason;
  if (truncatedToolCall) {
    await failRun(ctx, run.id, 'model_output_truncated', `Claude's answer was cut off twice while writing a tool call (output limit). Use \`/agent rerun ${run.id}\` with a narrower task.`);
    return 'idle';
  }
  switch (stop) {
    case 'tool_use':
    case 'pause_turn':
      return 'continue';
    case 'end_turn':
    case 'stop_sequence':
    case null:
    case 'max_tokens':
      return finish(ctx, run, { seq, role: 'assistant', content: response.content, stopReason: stop });
    case 'refusal':
      await failRun(ctx, run.id, 'model_refusal', 'Claude declined to continue this task (refusal). Nothing further was done.');
      return 'idle';
    case 'model_context_window_exceeded':
      await failRun(ctx, run.id, 'context_window_exceeded', `The conversation grew beyond Claude's context window. Use \`/agent rerun ${run.id}\` with a smaller task.`);
      return 'idle';
    default:
      await failRun(ctx, run.id, 'unknown_stop_reason', `Claude stopped for an unexpected reason (${stop}).`);
      return 'idle';
  }
}

/**
 * A turn that ends without tool calls: its text is the final answer and the run completes, unless a
 * reply came in meanwhile (then the answer is shown and the run goes on with the reply).
 */
export async function finish(ctx: EngineContext, run: Run, last: ConversationMessage): Promise<StepResult> {
  const { db, outbox } = ctx.deps;
  const text = reasoningOf(last.content) ?? '(no answer text)';
  const cut = last.stopReason === 'max_tokens' ? '\n\n_(The answer was cut short: Claude reached its output limit.)_' : '';
  const at = ctx.now();
  const done = await db.transaction().execute(async (trx) => {
    if (await continuesInstead(trx, run.id)) {
      // A reply came in while this turn was being written: its answer is shown, and the run goes on.
      await outbox.finalAnswer(trx, run, text, cut ? trusted(cut) : undefined);
      return 'again';
    }
    if (!(await transitionRun(trx, run.id, ['running'], { status: 'completed', finished_at: at, updated_at: at }))) return false;
    await appendActivity(trx, { at, teamId: run.team_id, runId: run.id, actor: 'agent', kind: 'run_completed', detail: {} });
    await outbox.finalAnswer(trx, run, text, doneNote(run, cut));
    await outbox.updateTaskMessage(trx, run, 'now');
    return true;
  });
  if (done === 'again') {
    outbox.wake();
    return 'continue';
  }
  if (done) outbox.wake();
  return 'idle';
}
