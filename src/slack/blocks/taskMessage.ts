import type { Run } from '../../db/schema.js';
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
export function renderTaskMessage(run: Run): { text: string; blocks: Record<string, unknown>[] } {
  const task = truncate(run.task, 2500).text;
  const blocks = [
    section(`*Task* (run \`${run.id}\`)\n${escapeMrkdwn(task)}`),
    context(
      [
        `Requested by <@${run.requester_id}>`,
        `Run \`${run.id}\``,
        `Status: ${statusLabel(run.status)}`,
        `${run.turns} turn${run.turns === 1 ? '' : 's'}`,
        `spend ${usd(run.spend_usd)}`,
        ...(run.parent_run_id ? [`rerun of \`${run.parent_run_id}\``] : []),
      ].join(' · '),
    ),
  ];
  if (run.error_message && (run.status === 'failed' || run.status === 'stopped' || run.status === 'cancelled')) {
    blocks.push(context(escapeMrkdwn(truncate(run.error_message, 500).text)));
  }
  return { text: `Task ${run.id} (${run.status}): ${truncate(run.task, 200).text}`, blocks };
}
