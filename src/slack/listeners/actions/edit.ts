import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { editableFields, fieldText } from '../../../agent/edits.js';
import { errorMessage, isAppError } from '../../../errors.js';
import { code, md } from '../../../text/mrkdwn.js';
import { editModal } from '../../blocks/editModal.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { blockActionSchema, clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Edit opens the pre-filled dialog, for someone who may approve the call; the decision comes on submit. */
export function editAction(services: SlackServices) {
  return async ({ ack, body, respond, client }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const actionId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !actionId || !parsed.data.trigger_id) return;
    const tell = (text: string) =>
      respond({ response_type: 'ephemeral', replace_original: false, text }).catch((err: unknown) =>
        services.logger.warn({ err: errorMessage(err) }, 'could not answer the clicker'),
      );
    try {
      const { action, description } = await services.approvals.describe(actionId);
      const refused = await services.approvals.precheck(actionId, parsed.data.user.id, { clicker: clickerOf(parsed.data), approving: true });
      if (refused?.outcome === 'already_decided') return void (await tell(alreadyDecidedText(action)));
      if (refused?.outcome === 'not_allowed') return void (await tell(`:no_entry: ${refused.why} Nothing was changed.`));
      const fields = editableFields(action.tool);
      if (!fields) return void (await tell(md`${code(action.tool)} calls cannot be edited; Approve or Reject them.`.value));
      const input = JSON.parse(action.input_json) as Record<string, unknown>;
      const tooLong = fields.find((f) => fieldText(f, input).length > 3000);
      if (tooLong) return void (await tell(`The ${tooLong.label.toLowerCase()} is longer than a Slack dialog can hold (3,000 characters), so this call cannot be edited here. Reject it with a note instead.`));
      // Read before opening: a trigger id lasts 3 s, and the list (a pipeline's stages) is one quick read.
      const { choices, unavailable } = await services.approvals.editChoices(action);
      if (unavailable) services.logger.warn({ actionId, tool: action.tool, why: unavailable }, 'edit dialog without its list');
      await client.views.open({
        trigger_id: parsed.data.trigger_id,
        view: editModal({ actionId, hash: action.input_hash, tool: action.tool, summary: description.summary, fields, input, choices, unavailable }) as never,
      });
    } catch (err) {
      if (isAppError(err, 'action_not_found')) return void (await tell('This card no longer matches anything I know about.'));
      services.logger.warn({ err: errorMessage(err), actionId }, 'could not open the edit dialog');
      await tell(md`:x: I could not open the Edit dialog (${errorMessage(err)}). Nothing was changed.`.value);
    }
  };
}
