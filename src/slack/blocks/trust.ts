import type { TrustView } from '../../agent/trust.js';
import { TRUST_MODES } from '../../policy/catalog.js';
import { channelRef, clipped, code, mention, subteamRef } from '../../text/mrkdwn.js';
import { context, mrkdwn, section } from './text.js';
import type { ApprovalRule } from '../../db/repos/approvalRules.js';
import { ruleText } from './approvalRules.js';

const MODE_LABEL = { require_approval: ':raised_hand: require_approval', auto_notify: ':bell: auto_notify', full_auto: ':white_check_mark: full_auto' } as const;

export const TRUST_EDIT_CALLBACK_ID = 'trust_edit';

function approversText(a: TrustView['rows'][number]['approvers']): string {
  if (!a || (a.users.length === 0 && a.groups.length === 0)) return 'anyone who sees the card';
  return [...a.users.map((u) => mention(u).value), ...a.groups.map((g) => subteamRef(g).value)].join(', ');
}

/** `/agent trust`: every action type, its category, current mode and who may approve. */
export function renderTrust(view: TrustView, rules: Map<string, ApprovalRule> = new Map()): { text: string; blocks: Record<string, unknown>[] } {
  const lines = view.rows.map((r) => {
    const rule = ruleText(rules.get(r.actionType));
    return `${code(r.actionType).value} (${r.category}) — ${MODE_LABEL[r.mode]}${r.hardFloor ? ' · hard floor, always approval' : r.mode !== r.defaultMode ? ` · default ${r.defaultMode}` : ''}${r.offered ? '' : ' · not configured'}\n      ${clipped(r.label, 300).value}; approvers: ${approversText(r.approvers)}${rule ? `\n      approval rule: ${rule}` : ''}`;
  });
  const route = view.settings.route === 'thread' || (!view.settings.route && !view.defaultRoute) ? 'the task thread' : channelRef(view.settings.route ?? view.defaultRoute ?? '').value;
  const header = [
    '*Trust levels*',
    view.paused ? `:double_vertical_bar: *Paused*${view.pausedReason ? ` (${clipped(view.pausedReason, 300).value})` : ''}: every action needs approval until \`/agent unpause\`.` : '',
    `Cards go to ${route}. Self-approval is ${view.settings.selfApproval ? 'allowed' : 'off'}. Thread cards are ${view.settings.announceCards ? 'also shown in the channel' : 'kept in the thread'}.${view.settings.quietCards.length ? ` Cards that mention nobody: ${view.settings.quietCards.map((a) => `\`${a.replace(/[`<>&]/g, '')}\``).join(', ')}.` : ''} Other people's replies in a task thread are ${view.settings.othersReplies === 'context' ? 'passed to the run as untrusted context' : 'ignored'}. Daily digest at ${String(view.settings.digestHour).padStart(2, '0')}:00${view.settings.digestTimezone ? ` ${view.settings.digestTimezone}` : ' (UTC)'}.`,
  ]
    .filter(Boolean)
    .join('\n');
  const blocks: Record<string, unknown>[] = [section(header)];
  for (let i = 0; i < lines.length; i += 8) blocks.push(section(lines.slice(i, i + 8).join('\n')));
  blocks.push(
    context(
      'Admins: `/agent trust &lt;action&gt; &lt;mode&gt;`, `/agent trust edit`, `/agent trust &lt;action&gt; approvers @user @group|anyone`, `/agent trust &lt;action&gt; approvals|expire|remind …`, `/agent trust self-approval on|off`, `/agent trust others-replies ignore|context`, `/agent trust route thread|#channel`, `/agent trust digest &lt;hour&gt; [timezone]`.',
    ),
  );
  return { text: 'Trust levels', blocks };
}

/** `/agent trust edit`: one select per action type that can be changed (hard-floor ones are shown, fixed). */
export function trustEditModal(view: TrustView): Record<string, unknown> {
  const editable = view.rows.filter((r) => !r.hardFloor);
  const fixed = view.rows.filter((r) => r.hardFloor).map((r) => code(r.actionType).value);
  const option = (m: string) => ({ text: { type: 'plain_text', text: m }, value: m });
  return {
    type: 'modal',
    callback_id: TRUST_EDIT_CALLBACK_ID,
    title: { type: 'plain_text', text: 'Trust levels' },
    submit: { type: 'plain_text', text: 'Save' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: mrkdwn(`Always approval (hard floor): ${fixed.join(', ')}`) },
      ...editable.slice(0, 90).map((r) => ({
        type: 'input',
        block_id: `mode:${r.actionType}`,
        label: { type: 'plain_text', text: r.actionType.slice(0, 2000) },
        hint: { type: 'plain_text', text: r.label.slice(0, 2000) || '-' },
        element: { type: 'static_select', action_id: 'mode', initial_option: option(r.mode), options: TRUST_MODES.map(option) },
      })),
    ],
  };
}
