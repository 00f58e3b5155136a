import type { ActivityRow, Run } from '../../db/schema.js';
import { escapeMrkdwn, slackDate, truncate } from './text.js';
import { statusLabel } from './taskMessage.js';

function actorLabel(actor: string): string {
  return actor === 'agent' || actor === 'system' || actor === 'policy' ? `_${actor}_` : `<@${actor}>`;
}

function describeEntry(row: ActivityRow): string {
  let d: Record<string, unknown> = {};
  try {
    d = JSON.parse(row.detail_json) as Record<string, unknown>;
  } catch {
    d = {};
  }
  const tool = typeof d['tool'] === 'string' ? `\`${d['tool']}\`` : '';
  switch (row.kind) {
    case 'run_started':
      return `started the run: "${escapeMrkdwn(truncate(String(d['task'] ?? ''), 200).text)}"`;
    case 'model_call':
      return `model call (${String(d['stopReason'])}): ${String(d['inputTokens'])} in / ${String(d['outputTokens'])} out tokens, $${Number(d['costUsd'] ?? 0).toFixed(4)}`;
    case 'action_proposed':
      return `proposed ${tool} (${String(d['mode'])}, runs on its own)`;
    case 'approval_requested':
      return `asked for approval of ${tool}`;
    case 'action_invalid':
      return `proposed ${tool} with invalid input (sent back to the model)`;
    case 'action_refused':
      return `proposed ${tool}; not queued (approval queue full)`;
    case 'approved':
      return `approved ${tool}`;
    case 'rejected':
      return `rejected ${tool}${d['note'] ? `: "${escapeMrkdwn(truncate(String(d['note']), 300).text)}"` : ''}`;
    case 'action_dispatched':
      return `carried out ${tool}`;
    case 'action_failed':
      return `${tool} failed: ${escapeMrkdwn(truncate(String(d['result'] ?? ''), 200).text)}`;
    case 'action_outcome_unknown':
      return d['reason']
        ? `${tool}: outcome unknown, not retried: ${escapeMrkdwn(truncate(String(d['reason']), 200).text)}`
        : `${tool}: outcome unknown after a restart, not retried`;
    case 'dispatch_refused':
      return `refused to dispatch ${tool}: ${escapeMrkdwn(String(d['why'] ?? ''))}`;
    case 'card_post_failed':
      return `could not post an approval card: ${escapeMrkdwn(String(d['error'] ?? ''))}`;
    case 'run_completed':
      return 'completed the run';
    case 'run_failed':
    case 'run_stopped':
      return `${row.kind === 'run_failed' ? 'run failed' : 'run stopped'}: ${escapeMrkdwn(truncate(String(d['message'] ?? ''), 300).text)}`;
    case 'run_cancelled':
      return `cancelled the run${d['reason'] === 'rejected' ? ' (by rejecting an action)' : ''}`;
    default:
      return `${row.kind.replace(/_/g, ' ')} ${tool}`.trim();
  }
}

/** `/agent log`: the run's history, newest last, split into sections that fit Slack's limits. */
export function renderLog(run: Run, rows: ActivityRow[]): { text: string; blocks: Record<string, unknown>[] } {
  const lines = rows.map((r) => `${slackDate(r.at)} ${actorLabel(r.actor)} ${describeEntry(r)}`);
  const header = `*Activity of run \`${run.id}\`* — ${statusLabel(run.status)} · requested by <@${run.requester_id}>`;
  const blocks: Record<string, unknown>[] = [{ type: 'section', text: { type: 'mrkdwn', text: header } }];
  let chunk = '';
  const maxSections = 45;
  let omitted = 0;
  for (const line of lines) {
    if (blocks.length >= maxSections) {
      omitted += 1;
      continue;
    }
    if (chunk.length + line.length + 1 > 2900) {
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: chunk } });
      chunk = '';
    }
    chunk += (chunk ? '\n' : '') + line;
  }
  if (chunk && blocks.length < maxSections) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: chunk } });
  if (omitted) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${omitted} more entries not shown; export them with scripts/export-audit.ts.` }] });
  return { text: `Activity of run ${run.id}: ${rows.length} entries`, blocks };
}
