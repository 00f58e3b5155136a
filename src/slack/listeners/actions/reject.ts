import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { md } from '../../../text/mrkdwn.js';
import { rejectModal } from '../../blocks/modals.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { blockActionSchema, clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Reject opens a modal for an optional note; the decision is taken when the modal is submitted. */
export function rejectAction(services: SlackServices) {
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
      const { action, run, description } = await services.approvals.describe(actionId);
      const refused = await services.approvals.precheck(actionId, parsed.data.user.id, { clicker: clickerOf(parsed.data) });
      if (refused?.outcome === 'already_decided') return void (await tell(alreadyDecidedText(action)));
      if (refused?.outcome === 'not_allowed') return void (await tell(`:no_entry: ${refused.why} Nothing was changed.`));
      await client.views.open({
        trigger_id: parsed.data.trigger_id,
        view: rejectModal({ actionId, summary: description.summary, runId: run?.id ?? action.run_id }) as never,
      });
    } catch (err) {
      if (isAppError(err, 'action_not_found')) return void (await tell('This card no longer matches anything I know about.'));
      services.logger.warn({ err: errorMessage(err), actionId }, 'could not open the reject modal');
      await tell(md`:x: I could not open the Reject dialog (${errorMessage(err)}). Nothing was changed; click Reject again.`.value);
    }
  };
}
