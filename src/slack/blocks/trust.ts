import type { TrustView } from '../../agent/trust.js';
import { TRUST_MODES } from '../../policy/catalog.js';
import { escapeMrkdwn, section } from './text.js';

const MODE_LABEL = { require_approval: ':raised_hand: require_approval', auto_notify: ':bell: auto_notify', full_auto: ':white_check_mark: full_auto' } as const;

export const TRUST_EDIT_CALLBACK_ID = 'trust_edit';

function approversText(a: TrustView['rows'][number]['approvers']): string {
  if (!a || (a.users.length === 0 && a.groups.length === 0)) return 'anyone who sees the card';
  return [...a.users.map((u) => `<@${u}>`), ...a.groups.map((g) => `<!subteam^${g}>`)].join(', ');
}

/** `/agent trust`: every action type, its category, current mode and who may approve. */
export function renderTrust(view: TrustView): { text: string; blocks: Record<string, unknown>[] } {
  const lines = view.rows.map(
    (r) =>
      `\`${r.actionType}\` (${r.category}) — ${MODE_LABEL[r.mode]}${r.hardFloor ? ' · hard floor, always approval' : r.mode !== r.defaultMode ? ` · default ${r.defaultMode}` : ''}${r.offered ? '' : ' · not configured'}\n      ${escapeMrkdwn(r.label)}; approvers: ${approversText(r.approvers)}`,
  );
  const route = view.settings.route === 'thread' || (!view.settings.route && !view.defaultRoute) ? 'the task thread' : `<#${view.settings.route ?? view.defaultRoute}>`;
  const header = [
    '*Trust levels*',
    view.paused ? `:double_vertical_bar: *Paused*${view.pausedReason ? ` (${escapeMrkdwn(view.pausedReason)})` : ''}: every action needs approval until \`/agent unpause\`.` : '',
    `Cards go to ${route}. Self-approval is ${view.settings.selfApproval ? 'allowed' : 'off'}. Daily digest at ${String(view.settings.digestHour).padStart(2, '0')}:00${view.settings.digestTimezone ? ` ${view.settings.digestTimezone}` : ' (UTC)'}.`,
  ]
    .filter(Boolean)
    .join('\n');
  const blocks: Record<string, unknown>[] = [section(header)];
  for (let i = 0; i < lines.length; i += 8) blocks.push(section(lines.slice(i, i + 8).join('\n')));
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: 'Admins: `/agent trust <action> <mode>`, `/agent trust edit`, `/agent trust <action> approvers @user @group|anyone`, `/agent trust self-approval on|off`, `/agent trust route thread|#channel`, `/agent trust digest <hour> [timezone]`.' }],
  });
  return { text: 'Trust levels', blocks };
}

/** `/agent trust edit`: one select per action type that can be changed (hard-floor ones are shown, fixed). */
export function trustEditModal(view: TrustView): Record<string, unknown> {
  const editable = view.rows.filter((r) => !r.hardFloor);
  const fixed = view.rows.filter((r) => r.hardFloor).map((r) => `\`${r.actionType}\``);
  const option = (m: string) => ({ text: { type: 'plain_text', text: m }, value: m });
  return {
    type: 'modal',
    callback_id: TRUST_EDIT_CALLBACK_ID,
    title: { type: 'plain_text', text: 'Trust levels' },
    submit: { type: 'plain_text', text: 'Save' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `Always approval (hard floor): ${fixed.join(', ')}` } },
      ...editable.slice(0, 90).map((r) => ({
        type: 'input',
        block_id: `mode:${r.actionType}`,
        label: { type: 'plain_text', text: r.actionType.slice(0, 2000) },
        hint: { type: 'plain_text', text: r.label },
        element: { type: 'static_select', action_id: 'mode', initial_option: option(r.mode), options: TRUST_MODES.map(option) },
      })),
    ],
  };
}
