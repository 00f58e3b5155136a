import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { code, md, trusted } from '../../../text/mrkdwn.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { blockActionSchema, clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Approve: ack, check who clicked, claim, and let the core dispatch; a refused or late clicker is told privately. */
export function approveAction(services: SlackServices, opts: { remember: boolean } = { remember: false }) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const actionId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !actionId) {
      services.logger.warn('approve click without a usable payload');
      return;
    }
    const tell = (text: string) =>
      respond({ response_type: 'ephemeral', replace_original: false, text }).catch((err: unknown) =>
        services.logger.warn({ err: errorMessage(err) }, 'could not answer the clicker'),
      );
    const userId = parsed.data.user.id;
    try {
      // Someone of another organisation (a Slack Connect guest) is refused before anything is claimed.
      const refused = await services.approvals.precheck(actionId, userId, { clicker: clickerOf(parsed.data), remember: opts.remember });
      if (refused?.outcome === 'already_decided') return void (await tell(alreadyDecidedText(refused.action)));
      if (refused?.outcome === 'not_allowed') return void (await tell(`:no_entry: ${refused.why} Nothing was changed.`));
      const decision = await services.approvals.approve({ actionId, userId, remember: opts.remember });
      if (decision.outcome === 'already_decided') await tell(alreadyDecidedText(decision.action));
      if (decision.outcome === 'not_allowed') await tell(`:no_entry: ${decision.why} Nothing was changed.`);
      if (decision.outcome === 'approved' && decision.remembered) {
        const tool = code(decision.action.tool);
        await tell(md`Approved. ${tool} is now *auto_notify* in this workspace: it will run on its own and notify the thread. Change it back with ${code(`/agent trust ${decision.action.tool} require_approval`)}.`.value);
      }
    } catch (err) {
      if (isAppError(err, 'action_not_found')) return void (await tell('This card no longer matches anything I know about. Nothing was done.'));
      services.logger.error({ err, actionId }, 'approve failed');
      await tell(md`${trusted(':x:')} Approving failed: ${errorMessage(err)}. Nothing was sent; try again.`.value);
    }
  };
}
