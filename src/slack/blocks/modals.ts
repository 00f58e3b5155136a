import type { CallDescription } from '../../tools/types.js';
import { escapeMrkdwn, LIMITS, truncate, verbatim } from './text.js';

export const REJECT_CALLBACK_ID = 'approval_reject_note';
export const REJECT_NOTE_BLOCK = 'reject_note';
export const REJECT_NOTE_ACTION = 'note';

/** Reject asks for an optional note; the action id rides in private_metadata (not user-editable). */
export function rejectModal(opts: { actionId: string; summary: string; runId: string }): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: REJECT_CALLBACK_ID,
    private_metadata: JSON.stringify({ actionId: opts.actionId }),
    title: { type: 'plain_text', text: 'Reject action' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: truncate(`Reject *${escapeMrkdwn(opts.summary)}*? This cancels run \`${opts.runId}\`: nothing else it proposed will be done.`, LIMITS.sectionText).text },
      },
      {
        type: 'input',
        block_id: REJECT_NOTE_BLOCK,
        optional: true,
        label: { type: 'plain_text', text: 'Note (optional)' },
        element: { type: 'plain_text_input', action_id: REJECT_NOTE_ACTION, multiline: true, max_length: 2000, placeholder: { type: 'plain_text', text: 'Why? The requester sees this, and a rerun can use it.' } },
      },
    ],
  };
}

/** The whole content of a call, split over as many sections as a modal allows. */
export function viewFullModal(opts: { description: CallDescription; runId: string }): Record<string, unknown> {
  const content = opts.description.content ?? '';
  const chunks: string[] = [];
  const size = LIMITS.modalSection - 10;
  for (let i = 0; i < content.length && chunks.length < LIMITS.modalBlocks - 3; i += size) chunks.push(content.slice(i, i + size));
  const shownAll = chunks.join('').length >= content.length;
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Full content' },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(`*${escapeMrkdwn(opts.description.summary)}* (run \`${opts.runId}\`)`, LIMITS.sectionText).text } },
      ...chunks.map((c) => ({ type: 'section', text: { type: 'mrkdwn', text: verbatim(c) } })),
      ...(shownAll ? [] : [{ type: 'context', elements: [{ type: 'mrkdwn', text: `Content is ${content.length} characters; a modal can show only the first ${chunks.join('').length}.` }] }]),
    ],
  };
}
