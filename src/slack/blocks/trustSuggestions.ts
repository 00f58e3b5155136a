import type { TrustSuggestion } from '../../agent/trustSuggestions.js';
import { suggestionButtonValue, SUGGESTION_RULES } from '../../agent/trustSuggestions.js';
import { code, md, type Mrkdwn } from '../../text/mrkdwn.js';
import { context, section } from './text.js';

export const SUGGESTION_ACTION_IDS = { apply: 'trust_suggestion_apply', dismiss: 'trust_suggestion_dismiss' } as const;

/** The block id of a suggestion's buttons: the click's outcome replaces exactly that block. */
export const suggestionBlockId = (actionType: string): string => `trust_suggestion:${actionType}`.slice(0, 255);

/** Slack allows 50 blocks in a message; each suggestion takes two. */
const MAX_SHOWN = 20;

/** One suggestion: what was seen, the question, and the two buttons (admins only; the core checks). */
export function suggestionBlocks(s: TrustSuggestion): Record<string, unknown>[] {
  const value = suggestionButtonValue(s);
  return [
    section(md`${code(s.actionType)}: approved ${String(s.approved)} of ${String(s.approved)} times, never edited; run it on its own with a notice?`),
    {
      type: 'actions',
      block_id: suggestionBlockId(s.actionType),
      elements: [
        { type: 'button', action_id: SUGGESTION_ACTION_IDS.apply, style: 'primary', text: { type: 'plain_text', text: 'Run it with a notice' }, value },
        { type: 'button', action_id: SUGGESTION_ACTION_IDS.dismiss, text: { type: 'plain_text', text: 'Keep asking' }, value },
      ],
    },
  ];
}

/**
 * Trust suggestions for admins, as a message (the daily digest) or as part of App Home. Empty when there
 * is nothing to suggest, so a caller can always include it.
 */
export function renderTrustSuggestions(list: readonly TrustSuggestion[]): { text: Mrkdwn; blocks: Record<string, unknown>[] } {
  if (list.length === 0) return { text: md``, blocks: [] };
  const shown = list.slice(0, MAX_SHOWN);
  const first = shown[0]!;
  const text =
    list.length === 1
      ? md`:bulb: Trust suggestion: ${code(first.actionType)} was approved ${String(first.approved)} of ${String(first.approved)} times, never edited.`
      : md`:bulb: ${String(list.length)} trust suggestions for admins.`;
  const blocks: Record<string, unknown>[] = [section(md`:bulb: *Trust suggestions* — approvals that have become a formality (last ${String(SUGGESTION_RULES.windowDays)} days, no rejection, no edit).`)];
  for (const s of shown) blocks.push(...suggestionBlocks(s));
  const more = list.length > shown.length ? md` ${String(list.length - shown.length)} more are not shown.` : md``;
  blocks.push(
    context(
      md`*Run it with a notice* sets ${code('auto_notify')}: the action runs at once and its run's thread says what was done (with Undo where it can be undone). Only admins can use these buttons; ${code('/agent trust')} changes it back.${more}`,
    ),
  );
  return { text, blocks };
}

/**
 * The message after a click: the clicked suggestion's buttons become a line saying who did what; the
 * rest of the message (other suggestions included) stays as Slack sent it back.
 */
export function resolveSuggestion(original: readonly Record<string, unknown>[] | undefined, actionType: string, outcome: Mrkdwn): Record<string, unknown>[] {
  const id = suggestionBlockId(actionType);
  if (!original?.some((b) => b['block_id'] === id)) return [section(outcome)];
  return original.map((b) => (b['block_id'] === id ? { ...context(outcome), block_id: id } : b));
}
