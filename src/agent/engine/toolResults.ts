import type { Db } from '../../db/connection.js';
import { actionResult, listTurnActions } from '../../db/repos/actions.js';
import { appendMessage, lastSeq } from '../../db/repos/messages.js';
import { getRun } from '../../db/repos/runs.js';
import { SETTLED_ACTION_STATUSES } from '../../db/schema.js';
import { POLICY_ACTOR } from '../dispatcher.js';
import { editsOf, type StoredEdit } from '../editLog.js';
import { editNoteForModel } from '../edits.js';
import type { EngineContext } from './context.js';

/**
 * Inside a transaction that has locked the run (`lockRun`): once every call of the turn is settled and
 * the run still runs with this turn as its latest message, the turn's results go back to the model as one
 * message. The dispatcher's transaction that records a call's result (which locks the run first) calls it
 * too, so the result that settles the turn commits with the turn's results.
 */
export async function appendToolResults(ctx: EngineContext, trx: Db, runId: string, turnSeq: number): Promise<boolean> {
  const actions = await listTurnActions(trx, runId, turnSeq);
  if (!actions.every((a) => SETTLED_ACTION_STATUSES.includes(a.status))) return false;
  const fresh = await getRun(trx, runId);
  if (!fresh || fresh.status !== 'running') return false;
  if ((await lastSeq(trx, runId)) !== turnSeq) return false;
  // Only a person's Edit & approve changes a call; calls the policy ran have no edits to look up.
  const edits = actions.some((a) => a.decided_by !== POLICY_ACTOR) ? await editsOf(trx, actions.map((a) => a.id)) : new Map<string, StoredEdit>();
  // Every tool_use gets exactly one tool_result, in the order the model asked, all in one message.
  const content = actions.map((a) => {
    const r = actionResult(a) ?? { content: `No result recorded (${a.status}).`, is_error: true };
    // The model proposed something else: it is told that a human changed the call, and how.
    const edit = edits.get(a.id);
    const text = edit ? `${editNoteForModel(edit.by, edit.changes)}\n\n${r.content}` : r.content;
    return { type: 'tool_result', tool_use_id: a.tool_use_id, content: text, ...(r.is_error ? { is_error: true } : {}) };
  });
  await appendMessage(trx, { runId, role: 'user', content, at: ctx.now(), seq: turnSeq + 1 });
  return true;
}
