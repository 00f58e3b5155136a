import type { Run } from '../../db/schema.js';
import { subtasksOf, type Subtask } from '../../agent/taskBoard.js';
import { context, escapeMrkdwn, section, truncate, usd } from './text.js';

const STATUS_LABEL: Record<Run['status'], string> = {
  running: ':hourglass_flowing_sand: running',
  awaiting_approval: ':raised_hand: waiting for approval',
  completed: ':white_check_mark: completed',
  failed: ':x: failed',
  cancelled: ':no_entry_sign: cancelled',
  stopped: ':octagonal_sign: stopped',
};

export function statusLabel(status: Run['status']): string {
  return STATUS_LABEL[status];
}

/** The task message: its thread is where everything about the run happens. */
export function renderTaskMessage(run: Run, queuePosition?: number, extra: Record<string, unknown>[] = []): { text: string; blocks: Record<string, unknown>[] } {
  const task = truncate(run.task, 2500).text;
  const blocks = [
    section(`*Task* (run \`${run.id}\`)\n${escapeMrkdwn(task)}`),
    context(
      [
        `Requested by <@${run.requester_id}>`,
        `Run \`${run.id}\``,
        `Status: ${queuePosition && run.status === 'running' ? `:hourglass: queued (position ${queuePosition})` : statusLabel(run.status)}`,
        `${run.turns} turn${run.turns === 1 ? '' : 's'}`,
        `spend ${usd(run.spend_usd)}`,
        ...(run.parent_run_id ? [`rerun of \`${run.parent_run_id}\``] : []),
      ].join(' · '),
    ),
  ];
  const subtasks = safeSubtasks(run.subtasks_json);
  const statusLine = run.task_status !== 'in_progress' || subtasks.length ? `*Task status:* ${run.task_status.replace('_', ' ')}` : '';
  if (statusLine || subtasks.length) {
    const list = subtasks.slice(0, 30).map((s) => `${s.done ? ':ballot_box_with_check:' : ':white_square:'} ${escapeMrkdwn(truncate(s.title, 200).text)}`);
    blocks.push(section([statusLine, ...list].filter(Boolean).join('\n')));
  }
  blocks.push(...extra);
  if (run.error_message && (run.status === 'failed' || run.status === 'stopped' || run.status === 'cancelled')) {
    blocks.push(context(escapeMrkdwn(truncate(run.error_message, 500).text)));
  }
  return { text: `Task ${run.id} (${run.status}): ${truncate(run.task, 200).text}`, blocks };
}

/** A broken stored checklist must not stop the task message from rendering. */
function safeSubtasks(json: string): Subtask[] {
  try {
    return subtasksOf(json);
  } catch {
    return [];
  }
}
