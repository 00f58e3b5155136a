import type { ActivityRow, Run } from '../../db/schema.js';
import { clipped, code, dateRef, md, mention, trusted, type Mrkdwn } from '../../text/mrkdwn.js';
import { clipMrkdwn, context, fallbackText, section } from './text.js';
import { statusLabel } from './taskMessage.js';

/** Room for one line of the log; longer details are cut (the whole record stays in the database). */
const LINE_MAX = 1200;
const SECTION_MAX = 2900;
const MAX_SECTIONS = 45;

function actorLabel(actor: string): Mrkdwn {
  return actor === 'agent' || actor === 'system' || actor === 'policy' ? md`_${actor}_` : mention(actor);
}

function detailOf(row: ActivityRow): Record<string, unknown> {
  try {
    const d = JSON.parse(row.detail_json) as unknown;
    return d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

function describeEntry(row: ActivityRow): Mrkdwn {
  const d = detailOf(row);
  const tool = typeof d['tool'] === 'string' ? code(d['tool']) : trusted('');
  switch (row.kind) {
    case 'run_started':
      return md`started the run: "${clipped(str(d['task']), 300)}"`;
    case 'model_call':
      return md`model call (${str(d['stopReason'])}): ${str(d['inputTokens'])} in / ${str(d['outputTokens'])} out tokens, $${Number(d['costUsd'] ?? 0).toFixed(4)}`;
    case 'action_proposed':
      return md`proposed ${tool} (${str(d['mode'])}, runs on its own)`;
    case 'approval_requested':
      return md`asked for approval of ${tool}`;
    case 'action_invalid':
      return md`proposed ${tool} with invalid input (sent back to the model)`;
    case 'action_refused':
      return md`proposed ${tool}; not queued (approval queue full)`;
    case 'approved':
      return md`approved ${tool}`;
    case 'rejected':
      return md`rejected ${tool}${d['note'] ? md`: "${clipped(str(d['note']), 600)}"` : ''}`;
    case 'decision_refused':
      return md`was refused a decision on ${tool}: ${clipped(str(d['why']), 400)}`;
    case 'action_dispatched':
      return md`carried out ${tool}`;
    case 'action_failed':
      return md`${tool} failed: ${clipped(str(d['result']), 600)}`;
    case 'action_outcome_unknown':
      return d['reason'] ? md`${tool}: outcome unknown, not retried: ${clipped(String(d['reason']), 200)}` : md`${tool}: outcome unknown after a restart (not retried)`;
    case 'dispatch_refused':
      return md`refused to dispatch ${tool}: ${clipped(str(d['why']), 600)}`;
    case 'card_post_failed':
      return md`could not post an approval card: ${clipped(str(d['error']), 600)}`;
    case 'run_completed':
      return md`completed the run`;
    case 'run_failed':
    case 'run_stopped':
      return md`${row.kind === 'run_failed' ? 'run failed' : 'run stopped'}: ${clipped(str(d['message']), 800)}`;
    case 'run_cancelled':
      return md`cancelled the run${d['reason'] === 'rejected' ? ' (by rejecting an action)' : ''}`;
    case 'run_started_from_message':
      return md`started it ${d['via'] === 'dm' ? 'in a direct message' : 'by mentioning the app'}${Number(d['contextMessages'] ?? 0) > 0 ? md` (${str(d['contextMessages'])} earlier thread messages given as context)` : ''}`;
    case 'reply_added':
      return md`replied in the thread${d['state'] === 'continued' ? ' (the run continued)' : ''}: "${clipped(str(d['text']), 300)}"`;
    case 'context_added':
      return md`wrote in the thread (passed as untrusted context): "${clipped(str(d['text']), 300)}"`;
    case 'reply_ignored':
      return md`wrote in the thread (ignored: ${d['why'] === 'run_not_active' ? 'the run was not active' : d['why'] === 'empty' ? 'nothing written' : 'not the requester'})`;
    case 'replies_taken':
      return md`read ${str(d['replies'])} thread ${Number(d['replies']) === 1 ? 'reply' : 'replies'}`;
    default:
      return md`${row.kind.replace(/_/g, ' ')} ${tool}`;
  }
}

/**
 * `/agent log`: the run's history, oldest first, in sections that each hold at least one line and at most
 * 2,900 characters (Slack refuses empty sections and ones over 3,000).
 */
export function renderLog(run: Run, rows: ActivityRow[]): { text: string; blocks: Record<string, unknown>[] } {
  const lines = rows.map((r) => clipMrkdwn(md`${dateRef(r.at)} ${actorLabel(r.actor)} ${describeEntry(r)}`.value, LINE_MAX));
  const header = md`*Activity of run ${code(run.id)}* — ${trusted(statusLabel(run.status))} · requested by ${mention(run.requester_id)}`;
  const blocks: Record<string, unknown>[] = [section(header)];
  let chunk = '';
  let omitted = 0;
  for (const line of lines) {
    if (blocks.length >= MAX_SECTIONS) {
      omitted += 1;
      continue;
    }
    if (chunk && chunk.length + 1 + line.length > SECTION_MAX) {
      blocks.push(section(trusted(chunk)));
      chunk = '';
      if (blocks.length >= MAX_SECTIONS) {
        omitted += 1;
        continue;
      }
    }
    chunk += (chunk ? '\n' : '') + line;
  }
  if (chunk) blocks.push(section(trusted(chunk)));
  if (rows.length === 0) blocks.push(context(trusted('No activity recorded.')));
  if (omitted) blocks.push(context(trusted(`${omitted} more entries not shown; export them with scripts/export-audit.ts.`)));
  return { text: fallbackText(md`Activity of run ${run.id}: ${rows.length} entries`), blocks };
}
