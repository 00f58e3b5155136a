import type { Run } from '../../db/schema.js';
import { subtasksOf, type Subtask } from '../../agent/taskBoard.js';
import { clipped, code, md, mention, trusted, withUserMentions } from '../../text/mrkdwn.js';
import { cachingNote, context, fallbackText, section, truncate, usd } from './text.js';

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
export function renderTaskMessage(run: Run, queuePosition?: number, extra: Record<string, unknown>[] = [], cacheSavedUsd = 0): { text: string; blocks: Record<string, unknown>[] } {
  const blocks = [
    section(md`*Task* (run ${code(run.id)})\n${clipped(run.task, 2500)}`),
    context(
      [
        md`Requested by ${mention(run.requester_id)}`,
        md`Run ${code(run.id)}`,
        trusted(`Status: ${queuePosition && run.status === 'running' ? `:hourglass: queued (position ${queuePosition})` : statusLabel(run.status)}`),
        trusted(`${run.turns} turn${run.turns === 1 ? '' : 's'}`),
        trusted(`spend ${usd(run.spend_usd)}${cachingNote(cacheSavedUsd)}`),
        ...(run.parent_run_id ? [md`rerun of ${code(run.parent_run_id)}`] : []),
      ]
        .map((m) => m.value)
        .join(' · '),
    ),
  ];
  const subtasks = safeSubtasks(run.subtasks_json);
  const statusLine = run.task_status !== 'in_progress' || subtasks.length ? md`*Task status:* ${run.task_status.replace('_', ' ')}`.value : '';
  if (statusLine || subtasks.length) {
    // Checklist titles are model-written: escaped, hidden characters shown, each bounded so 30 fit.
    const list = subtasks.slice(0, 30).map((s) => md`${trusted(s.done ? ':ballot_box_with_check:' : ':white_square:')} ${clipped(s.title, 220)}`.value);
    let chunk = '';
    for (const line of [statusLine, ...list].filter(Boolean)) {
      if (chunk && chunk.length + 1 + line.length > 2900) {
        blocks.push(section(trusted(chunk)));
        chunk = '';
      }
      chunk += (chunk ? '\n' : '') + line;
    }
    if (chunk) blocks.push(section(trusted(chunk)));
  }
  blocks.push(...extra);
  if (run.error_message && (run.status === 'failed' || run.status === 'stopped' || run.status === 'cancelled')) {
    blocks.push(context(withUserMentions(truncate(run.error_message, 500).text)));
  }
  return { text: fallbackText(md`Task ${run.id} (${run.status}): ${clipped(run.task, 200)}`), blocks };
}

/** A broken stored checklist must not stop the task message from rendering. */
function safeSubtasks(json: string): Subtask[] {
  try {
    return subtasksOf(json);
  } catch {
    return [];
  }
}
