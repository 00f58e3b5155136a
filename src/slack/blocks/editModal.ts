import type { EditField } from '../../agent/edits.js';
import { fieldText } from '../../agent/edits.js';
import { clipped, code, md } from '../../text/mrkdwn.js';
import { mrkdwn } from './text.js';

export const EDIT_CALLBACK_ID = 'approval_edit_submit';
/** Each field is an input block whose block id is the tool's argument name; its element uses this id. */
export const EDIT_VALUE_ACTION = 'value';

/** Plain-text inputs take at most 3,000 characters: a longer value (a long email body) is edited elsewhere. */
const INPUT_MAX = 3000;

/**
 * "Edit" on a card: the call's editable arguments, pre-filled. The action id and the hash of the call the
 * dialog was opened on ride in private_metadata, so a dialog left open after someone else decided (or
 * edited) changes nothing.
 */
export function editModal(opts: { actionId: string; hash: string; tool: string; summary: string; fields: EditField[]; input: Record<string, unknown> }): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: EDIT_CALLBACK_ID,
    private_metadata: JSON.stringify({ actionId: opts.actionId, hash: opts.hash }),
    title: { type: 'plain_text', text: 'Edit & approve' },
    submit: { type: 'plain_text', text: 'Approve edited' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: mrkdwn(md`Edit ${code(opts.tool)}: *${clipped(opts.summary, 1500)}*. Submitting approves the edited call at once; the card and the activity log keep both versions.`) },
      ...opts.fields.map((f) => {
        const initial = fieldText(f, opts.input);
        return {
          type: 'input',
          block_id: f.key,
          optional: f.optional === true,
          label: { type: 'plain_text', text: f.label },
          ...(f.hint ? { hint: { type: 'plain_text', text: f.hint } } : {}),
          element: {
            type: 'plain_text_input',
            action_id: EDIT_VALUE_ACTION,
            multiline: f.multiline === true,
            max_length: INPUT_MAX,
            ...(initial ? { initial_value: initial.slice(0, INPUT_MAX) } : {}),
          },
        };
      }),
    ],
  };
}
