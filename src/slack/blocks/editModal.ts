import type { EditField } from '../../agent/edits.js';
import { fieldText } from '../../agent/edits.js';
import type { EditChoices } from '../../tools/types.js';
import { clipped, code, md } from '../../text/mrkdwn.js';
import { mrkdwn, truncate } from './text.js';

export const EDIT_CALLBACK_ID = 'approval_edit_submit';
/** Each field is an input block whose block id is the tool's argument name; its element uses this id. */
export const EDIT_VALUE_ACTION = 'value';

/** Plain-text inputs take at most 3,000 characters: a longer value (a long email body) is edited elsewhere. */
const INPUT_MAX = 3000;
/** Option texts in a select are plain text of at most 75 characters. */
const OPTION_TEXT_MAX = 75;

export interface EditModalOptions {
  actionId: string;
  hash: string;
  tool: string;
  summary: string;
  fields: EditField[];
  input: Record<string, unknown>;
  /** Lists for the fields picked from one (a deal's stages), as read when the dialog opened. */
  choices?: Record<string, EditChoices>;
  /** Why the list fields could not be offered as lists: they are typed instead, and the dialog says why. */
  unavailable?: string | undefined;
}

/**
 * "Edit" on a card: the call's editable arguments, pre-filled. The action id and the hash of the call the
 * dialog was opened on ride in private_metadata, so a dialog left open after someone else decided (or
 * edited) changes nothing; so does the option each list started on, so that leaving it there keeps the
 * call as proposed.
 */
export function editModal(opts: EditModalOptions): Record<string, unknown> {
  const picked: Record<string, string> = {};
  const blocks: Array<Record<string, unknown>> = [
    { type: 'section', text: mrkdwn(md`Edit ${code(opts.tool)}: *${clipped(opts.summary, 1500)}*. Submitting approves the edited call at once; the card and the activity log keep both versions.`) },
  ];
  for (const f of opts.fields) {
    const list = f.choices ? opts.choices?.[f.key] : undefined;
    if (f.choices && !list) {
      blocks.push({
        type: 'context',
        elements: [
          mrkdwn(md`:warning: I could not offer the list for ${f.label.toLowerCase()}: ${clipped(opts.unavailable ?? 'it could not be read', 500)}. Type it instead; it is checked when you submit, and nothing is approved unless it is valid.`),
        ],
      });
    }
    blocks.push(list ? selectBlock(f, list, picked) : textBlock(f, opts.input));
  }
  return {
    type: 'modal',
    callback_id: EDIT_CALLBACK_ID,
    private_metadata: JSON.stringify({ actionId: opts.actionId, hash: opts.hash, ...(Object.keys(picked).length > 0 ? { picked } : {}) }),
    title: { type: 'plain_text', text: 'Edit & approve' },
    submit: { type: 'plain_text', text: 'Approve edited' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

function textBlock(f: EditField, input: Record<string, unknown>): Record<string, unknown> {
  const initial = fieldText(f, input);
  return {
    type: 'input',
    block_id: f.key,
    optional: f.optional === true,
    label: { type: 'plain_text', text: f.label },
    ...(f.hint && !f.choices ? { hint: { type: 'plain_text', text: f.hint } } : {}),
    ...(f.choices ? { hint: { type: 'plain_text', text: 'Type its label or its id; it is checked when you submit.' } } : {}),
    element: {
      type: 'plain_text_input',
      action_id: EDIT_VALUE_ACTION,
      multiline: f.multiline === true,
      max_length: INPUT_MAX,
      ...(initial ? { initial_value: initial.slice(0, INPUT_MAX) } : {}),
    },
  };
}

function selectBlock(f: EditField, list: EditChoices, picked: Record<string, string>): Record<string, unknown> {
  // Option texts are plain text: shown as typed, nothing in them is interpreted by Slack.
  const options = list.options.map((o) => ({ text: { type: 'plain_text', text: truncate(o.label || o.value, OPTION_TEXT_MAX).text }, value: o.value }));
  const initial = options.find((o) => o.value === list.selected);
  if (initial) picked[f.key] = initial.value;
  return {
    type: 'input',
    block_id: f.key,
    optional: f.optional === true,
    label: { type: 'plain_text', text: f.label },
    ...(f.hint ? { hint: { type: 'plain_text', text: f.hint } } : {}),
    element: {
      type: 'static_select',
      action_id: EDIT_VALUE_ACTION,
      placeholder: { type: 'plain_text', text: 'Pick one' },
      options,
      ...(initial ? { initial_option: initial } : {}),
    },
  };
}
