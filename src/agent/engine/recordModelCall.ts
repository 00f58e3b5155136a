import { appendActivity } from '../../db/repos/activity.js';
import { appendMessage, type StoredBlock } from '../../db/repos/messages.js';
import { insertModelCall } from '../../db/repos/modelCalls.js';
import { getRun, lockRun, updateRun } from '../../db/repos/runs.js';
import type { Run } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { ModelResponse } from '../modelClient.js';
import { classifyTurn, storeProposals } from '../proposals.js';
import type { EngineContext } from './context.js';

export interface ModelCallRecord {
  run: Run;
  response: ModelResponse;
  cost: number;
  durationMs: number;
  /** The assistant message to store, or null to record only the usage (a cut-off call to be retried). */
  content: StoredBlock[] | null;
  /** The seq the assistant message will get: one past the conversation the call was made with. */
  nextSeq: number;
  truncated?: boolean;
}

/**
 * Stores the call's usage and (when given) the assistant message with its classified tool calls, in one
 * transaction and only if the run is still running: a run cancelled while Claude was thinking keeps
 * the spend but not the answer. Returns the message seq (-1 when no content was given), or null when
 * the run moved on.
 */
export async function recordModelCall(ctx: EngineContext, rec: ModelCallRecord): Promise<number | null> {
  const { run, response, cost, durationMs, content, nextSeq, truncated = false } = rec;
  const { db, outbox, settings } = ctx.deps;
  const at = ctx.now();
  const proposals =
    content && response.stopReason === 'tool_use' && !truncated ? await classifyTurn({ ...ctx.deps, queue: settings.queue, run, messageSeq: nextSeq, content }) : [];
  return db.transaction().execute(async (trx) => {
    await lockRun(trx, run.id);
    const fresh = await getRun(trx, run.id);
    await insertModelCall(trx, {
      run_id: run.id,
      team_id: run.team_id,
      user_id: run.requester_id,
      model: run.model,
      input_tokens: response.usage.inputTokens,
      output_tokens: response.usage.outputTokens,
      cache_read_tokens: response.usage.cacheReadTokens,
      cache_write_5m_tokens: response.usage.cacheWrite5mTokens,
      cache_write_1h_tokens: response.usage.cacheWrite1hTokens,
      cost_usd: cost,
      stop_reason: response.stopReason,
      duration_ms: durationMs,
      at,
    });
    await updateRun(trx, run.id, {
      spend_usd: (fresh?.spend_usd ?? run.spend_usd) + cost,
      turns: (fresh?.turns ?? run.turns) + 1,
      updated_at: at,
    });
    // Turns and spend show on the task message; progress waits so several turns fold into one update.
    await outbox.updateTaskMessage(trx, run, 'soon');
    await appendActivity(trx, {
      at,
      teamId: run.team_id,
      runId: run.id,
      actor: 'agent',
      kind: 'model_call',
      detail: {
        model: run.model,
        stopReason: response.stopReason,
        inputTokens: response.usage.inputTokens,
        outputTokens: response.usage.outputTokens,
        cacheReadTokens: response.usage.cacheReadTokens,
        costUsd: cost,
      },
    });
    // Cancelled while Claude was thinking, or taken over by another instance (our lease expired).
    if (!fresh || fresh.status !== 'running' || fresh.lease_owner !== ctx.owner) return null;
    if (!content) return -1;
    const seq = await appendMessage(trx, {
      runId: run.id,
      role: 'assistant',
      content,
      stopReason: truncated ? 'max_tokens' : response.stopReason,
      at,
    });
    if (seq !== nextSeq) throw new AppError('invalid_state', `Run ${run.id} advanced concurrently`);
    await storeProposals(trx, run, proposals, at);
    return seq;
  });
}
