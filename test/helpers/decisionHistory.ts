import type { Db } from '../../src/db/connection.js';
import { appendActivity } from '../../src/db/repos/activity.js';

let seq = 0;

/** The run the seeded decisions belong to (one per workspace). */
export async function seedRun(db: Db, teamId: string): Promise<void> {
  const at = '2026-08-01T00:00:00.000Z';
  await db
    .insertInto('runs')
    .values({
      id: runOf(teamId), team_id: teamId, channel_id: 'C_TASKS', thread_ts: null, requester_id: 'U_REQ', task: 'seeded history', status: 'completed', model: 'm',
      spend_usd: 0, turns: 1, parent_run_id: null, extra_context: null, system_prompt: 's', tools_json: '[]', task_status: 'done', subtasks_json: '[]',
      cost_cap_usd: null, max_turns: null, error_code: null, error_message: null, created_at: at, updated_at: at, finished_at: at,
    })
    .execute();
}

const runOf = (teamId: string) => `r-seed${teamId.toLowerCase().replace(/[^a-z0-9]/g, '')}`;

/**
 * Decision history as the app records it: one action per call, decided by a person, and the decision
 * rows of the activity log ('approved', 'rejected', and 'action_edited' for Edit & approve), one minute
 * apart from `at` on.
 */
export async function decided(db: Db, teamId: string, tool: string, n: number, at: Date, kinds: Array<'approved' | 'rejected' | 'action_edited'> = ['approved']): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `a-seed${process.pid}${String(++seq).padStart(6, '0')}`;
    const when = new Date(at.getTime() + i * 60_000).toISOString();
    await db
      .insertInto('actions')
      .values({
        id, run_id: runOf(teamId), team_id: teamId, message_seq: seq, block_index: 0, tool_use_id: `toolu_${id}`, tool, input_json: '{}', prepared_json: null,
        input_hash: 'h', mode: 'require_approval', decision: 'ask', status: kinds.includes('rejected') ? 'rejected' : 'succeeded', approved_hash: null,
        result_json: null, decided_by: 'U_APPROVER', decided_at: when, decision_note: null, card_channel: null, card_ts: null, card_error: null,
        dispatch_started_at: null, dispatched_at: null, undone_at: null, undone_by: null, notice_ts: null, created_at: when, updated_at: when,
      })
      .execute();
    for (const kind of kinds) await appendActivity(db, { at: when, teamId, runId: runOf(teamId), actionId: id, actor: 'U_APPROVER', kind, detail: { tool } });
  }
}
