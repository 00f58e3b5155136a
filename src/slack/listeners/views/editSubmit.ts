import type { AllMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { editableFields } from '../../../agent/edits.js';
import { errorMessage } from '../../../errors.js';
import { EDIT_VALUE_ACTION } from '../../blocks/editModal.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { clickerOf, viewSubmissionSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

const editMetadataSchema = z.object({ actionId: z.string().min(1), hash: z.string().min(1), picked: z.record(z.string(), z.string()).default({}) });
/** A text input carries `value`; a select carries `selected_option` (null when nothing is picked). */
const fieldStateSchema = z.looseObject({ value: z.string().nullish(), selected_option: z.looseObject({ value: z.string() }).nullish() });

/**
 * The Edit dialog was submitted: the edited call is validated and approved (stored) before Slack is
 * answered. Anything that stops it (invalid values, someone else decided, not allowed) is shown inline in
 * the dialog, and nothing changes.
 */
export function editSubmission(services: SlackServices) {
  return async ({ ack, body }: SlackViewMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    const parsed = viewSubmissionSchema.safeParse(body);
    if (!parsed.success) return void (await ack());
    const meta = editMetadataSchema.safeParse(safeJson(parsed.data.view.private_metadata));
    if (!meta.success) {
      await ack();
      services.logger.warn('edit dialog without usable metadata');
      return;
    }
    const values: Record<string, string | null | undefined> = {};
    for (const [blockId, block] of Object.entries(parsed.data.view.state.values)) {
      const state = fieldStateSchema.safeParse(block[EDIT_VALUE_ACTION]);
      values[blockId] = state.success ? (state.data.value ?? state.data.selected_option?.value ?? null) : null;
    }
    const { actionId, hash, picked } = meta.data;
    // A list left on the option the proposed call resolved to keeps the call's own text for that field.
    const keep = Object.keys(picked).filter((k) => values[k] === picked[k]);
    try {
      const decision = await services.approvals.editAndApprove({ actionId, userId: parsed.data.user.id, values, expectHash: hash, clicker: clickerOf(parsed.data), keep });
      const firstField = editableFields(decision.action.tool)?.[0]?.key ?? Object.keys(values)[0] ?? 'value';
      switch (decision.outcome) {
        case 'invalid':
          return void (await ack({ response_action: 'errors', errors: decision.errors }));
        case 'not_allowed':
          return void (await ack({ response_action: 'errors', errors: { [firstField]: `${decision.why} Nothing was changed.`.slice(0, 300) } }));
        case 'already_decided':
          return void (await ack({ response_action: 'errors', errors: { [firstField]: `${alreadyDecidedText(decision.action)} Your edit was not applied.`.slice(0, 300) } }));
        default:
          return void (await ack());
      }
    } catch (err) {
      services.logger.error({ err: errorMessage(err), actionId }, 'edit & approve failed');
      const field = Object.keys(values)[0] ?? 'value';
      await ack({ response_action: 'errors', errors: { [field]: `Approving failed: ${errorMessage(err)}. Nothing was sent; try again.`.slice(0, 300) } });
    }
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
