import type { WorkspaceStatus } from '../../agent/control.js';
import type { Run } from '../../db/schema.js';
import { channelRef, clipped, code, dateRef, md, mention, trusted, withUserMentions } from '../../text/mrkdwn.js';
import { cachingNote, section, truncate, usd } from './text.js';
import { statusLabel } from './taskMessage.js';

/** One MCP server for `/agent status`: its state, and why when it is not connected. */
export function mcpServerLine(server: WorkspaceStatus['mcpServers'][number]): string {
  if (server.state === 'connected') return md`${code(server.name)} :large_green_circle: connected (${server.toolNames.length} tool${server.toolNames.length === 1 ? '' : 's'})`.value;
  if (server.state === 'disabled') return md`${code(server.name)} disabled`.value;
  return md`${code(server.name)} :red_circle: unavailable: ${clipped(server.why ?? 'unknown reason', 300)}`.value;
}

export function renderWorkspaceStatus(s: WorkspaceStatus): { text: string; blocks: Record<string, unknown>[] } {
  const w = s.workspace;
  const mcpNames = new Set(s.mcpServers.flatMap((m) => m.toolNames));
  const builtIn = s.toolsOffered.filter((t) => !mcpNames.has(t));
  const external = s.toolsOffered.filter((t) => mcpNames.has(t));
  const lines = [
    `*Automation:* ${w.disabled ? `:octagonal_sign: disabled${w.disabledReason ? ` (${clipped(w.disabledReason, 300).value})` : ''}` : w.paused ? `:double_vertical_bar: paused — every action needs approval${w.pausedReason ? ` (${clipped(w.pausedReason, 300).value})` : ''}` : ':large_green_circle: active'}`,
    `*Pending approvals:* ${s.pendingApprovals} (warn at ${s.queue.warnAt}, stop queuing at ${s.queue.stopAt})${s.pendingApprovals >= s.queue.warnAt ? ' :warning: the approval queue is long' : ''}`,
    `*Runs:* ${s.runs.running ?? 0} running, ${s.runs.awaiting_approval ?? 0} waiting for approval, ${s.runs.completed ?? 0} completed, ${s.runs.failed ?? 0} failed, ${s.runs.cancelled ?? 0} cancelled, ${s.runs.stopped ?? 0} stopped`,
    `*Spend today (UTC):* ${usd(s.spendTodayUsd)} of ${usd(s.caps.workspaceDayUsd)} workspace cap${cachingNote(s.cacheSavedTodayUsd)} · caps: ${usd(s.caps.runUsd)} per run, ${usd(s.caps.userDayUsd)} per person per day, ${s.caps.turns} turns per run`,
    `*Tools offered:* ${builtIn.map((t) => code(t).value).join(', ') || 'none'}${external.length ? ` and ${external.length} MCP tool${external.length === 1 ? '' : 's'}` : ''}`,
  ];
  if (s.mcpServers.length) lines.push(`*MCP servers:* ${s.mcpServers.map(mcpServerLine).join(', ')} · details: \`/agent tools\``);
  if (s.toolsUnavailable.length) {
    lines.push(`*Not configured:* ${s.toolsUnavailable.map((t) => md`${code(t.name)} (${clipped(t.why, 300)})`.value).join(', ')}`);
  }
  return { text: `Agent status: ${s.pendingApprovals} pending approvals`, blocks: [section(lines.join('\n'))] };
}

export function renderRunStatus(run: Run): { text: string; blocks: Record<string, unknown>[] } {
  const lines = [
    md`*Run ${code(run.id)}* — ${trusted(statusLabel(run.status))}`,
    md`*Task:* ${clipped(run.task, 1500)}`,
    md`Requested by ${mention(run.requester_id)} in ${channelRef(run.channel_id)} ${dateRef(run.created_at)}`,
    md`${run.turns} model turns · spend ${usd(run.spend_usd)}${run.parent_run_id ? md` · rerun of ${code(run.parent_run_id)}` : ''}`,
    ...(run.error_message ? [md`*Why it ended:* ${withUserMentions(truncate(run.error_message, 500).text)}`] : []),
  ];
  return { text: `Run ${run.id}: ${run.status}`, blocks: [section(trusted(lines.map((l) => l.value).join('\n')))] };
}
