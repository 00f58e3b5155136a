import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { blockActionSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';
import type { Decision } from '../../../agent/approvals.js';

/** Approve: ack, claim, and let the core dispatch; a late clicker is told privately who decided. */
export function approveAction(services: SlackServices, opts: { remember: boolean } = { remember: false }) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    const parsed = blockActionSchema.safeParse(body);
    const actionId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !actionId) {
      await ack();
      services.logger.warn('approve click without a usable payload');
      return;
    }
    const tell = (text: string) =>
      respond({ response_type: 'ephemeral', replace_original: false, text }).catch((err: unknown) =>
        services.logger.warn({ err: errorMessage(err) }, 'could not answer the clicker'),
      );
    // The approval is stored before Slack hears back: an acknowledged click can never be lost.
    let decision: Decision;
    try {
      decision = await services.approvals.approve({ actionId, userId: parsed.data.user.id, remember: opts.remember });
    } catch (err) {
      await ack();
      if (isAppError(err, 'action_not_found')) return void (await tell('This card no longer matches anything I know about. Nothing was done.'));
      services.logger.error({ err, actionId }, 'approve failed');
      await tell(`:x: Approving failed: ${errorMessage(err)}. Nothing was sent; try again.`);
      return;
    }
    await ack();
    if (decision.outcome === 'already_decided') await tell(alreadyDecidedText(decision.action));
    if (decision.outcome === 'not_allowed') await tell(`:no_entry: ${decision.why} Nothing was changed.`);
    if (decision.outcome === 'approved' && decision.remembered) {
      await tell(`Approved. \`${decision.action.tool}\` is now *auto_notify* in this workspace: it will run on its own and notify the thread. Change it back with \`/agent trust ${decision.action.tool} require_approval\`.`);
    }
  };
}
