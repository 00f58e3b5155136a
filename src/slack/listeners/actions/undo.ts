import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage } from '../../../errors.js';
import { md, withUserMentions } from '../../../text/mrkdwn.js';
import { blockActionSchema, clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Undo on an auto_notify notification: revert through the dispatcher; refusals are told privately. */
export function undoAction(services: SlackServices) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const actionId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !actionId) return;
    try {
      const result = await services.approvals.undo(actionId, parsed.data.user.id, clickerOf(parsed.data));
      // `why` can carry a tool's own output: escaped, only plain user mentions kept.
      if (!result.ok) await respond({ response_type: 'ephemeral', replace_original: false, text: md`:no_entry: Not undone: ${withUserMentions(result.why)}`.value });
    } catch (err) {
      services.logger.error({ err: errorMessage(err), actionId }, 'undo failed');
      await respond({ response_type: 'ephemeral', replace_original: false, text: md`:x: Undo failed: ${errorMessage(err)}`.value }).catch(() => undefined);
    }
  };
}
