import { appendActivity } from '../../db/repos/activity.js';
import { appendMessage } from '../../db/repos/messages.js';
import { insertRun } from '../../db/repos/runs.js';
import type { Db } from '../../db/connection.js';
import type { Run } from '../../db/schema.js';
import { buildFirstUserMessage, buildSystemPrompt } from '../prompt.js';
import type { EngineContext } from './context.js';

export interface StartRunInput {
  /** A run id handed out earlier (so a command can ack with it before the insert); new when absent. */
  id?: string;
  teamId: string;
  channelId: string;
  requesterId: string;
  task: string;
  parentRunId?: string | null;
  extraContext?: string | null;
  /** The slash command's response_url: where the requester hears if the task message cannot be posted. */
  responseUrl?: string;
  /**
   * Started from a message (a mention, a DM): the thread it lives in, whose first reply becomes the task
   * message and where everything the run says goes.
   */
  threadTs?: string;
  /** Earlier thread messages, already labelled as untrusted: a block of its own in the first message. */
  untrustedContext?: string;
  /** Runs last inside the transaction that stores the run (claims the event that started it; may throw to undo). */
  within?: (trx: Db, run: Run) => Promise<void>;
}

/**
 * Stores a new run with its first message, activity row and task message in one transaction. The
 * system prompt and tool definitions are frozen on the run so a resumed run asks Claude the same way.
 */
export async function startRun(ctx: EngineContext, input: StartRunInput): Promise<Run> {
  const { db, ids, registry, settings, outbox } = ctx.deps;
  const at = ctx.now();
  const run: Run = {
    id: input.id ?? ids.runId(),
    team_id: input.teamId,
    channel_id: input.channelId,
    thread_ts: input.threadTs ?? null,
    requester_id: input.requesterId,
    task: input.task,
    status: 'running',
    model: settings.model,
    spend_usd: 0,
    turns: 0,
    parent_run_id: input.parentRunId ?? null,
    extra_context: input.extraContext ?? null,
    system_prompt: buildSystemPrompt({ today: at.slice(0, 10), requesterId: input.requesterId, channelId: input.channelId }),
    tools_json: registry.apiToolsJson(),
    task_status: 'in_progress',
    subtasks_json: '[]',
    cost_cap_usd: null,
    max_turns: null,
    error_code: null,
    error_message: null,
    created_at: at,
    updated_at: at,
    finished_at: null,
    lease_owner: null,
    lease_expires_at: null,
    slot_held: 0,
    queued_at: null,
  };
  await db.transaction().execute(async (trx) => {
    await insertRun(trx, run);
    await appendMessage(trx, {
      runId: run.id,
      role: 'user',
      content: [
        { type: 'text', text: buildFirstUserMessage(input.task, input.extraContext ?? null) },
        ...(input.untrustedContext ? [{ type: 'text', text: input.untrustedContext }] : []),
      ],
      at,
    });
    await appendActivity(trx, {
      at,
      teamId: run.team_id,
      runId: run.id,
      actor: input.requesterId,
      kind: 'run_started',
      detail: { task: input.task, channel: input.channelId, parentRunId: run.parent_run_id },
    });
    // The task message is queued with the run: once the command is acknowledged, neither can be lost.
    await outbox.postTaskMessage(trx, run, input.responseUrl);
    if (input.within) await input.within(trx, run);
  });
  outbox.wake();
  return run;
}
