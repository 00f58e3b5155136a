import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Decision } from '../../../agent/approvals.js';
import { errorMessage, isAppError } from '../../../errors.js';
import { code, md, trusted } from '../../../text/mrkdwn.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { blockActionSchema, clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/**
 * Approve: parse, decide (the core checks who clicked, including their organisation, and stores the
 * approval), then acknowledge, so an acknowledged click can never be lost; a refused or late clicker is
 * told privately.
 */
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
    const userId = parsed.data.user.id;
    let decision: Decision;
    try {
      decision = await services.approvals.approve({ actionId, userId, remember: opts.remember, clicker: clickerOf(parsed.data) });
    } catch (err) {
      await ack();
      if (isAppError(err, 'action_not_found')) return void (await tell('This card no longer matches anything I know about. Nothing was done.'));
      services.logger.error({ err, actionId }, 'approve failed');
      await tell(md`${trusted(':x:')} Approving failed: ${errorMessage(err)}. Nothing was sent; try again.`.value);
      return;
    }
    await ack();
    if (decision.outcome === 'already_decided') await tell(alreadyDecidedText(decision.action));
    if (decision.outcome === 'not_allowed') await tell(`:no_entry: ${decision.why} Nothing was changed.`);
    if (decision.outcome === 'counted') await tell(`Your approval is recorded: ${decision.given} of ${decision.required}. Nothing runs until ${decision.required} different people (not the requester) have approved.`);
    if (decision.outcome === 'already_approved') await tell(`You already approved this; an approval counts once per person (${decision.given} of ${decision.required} so far). Someone else needs to approve it.`);
    if (decision.outcome === 'approved' && decision.remembered) {
      const tool = code(decision.action.tool);
      await tell(md`Approved. ${tool} is now *auto_notify* in this workspace: it will run on its own and notify the thread. Change it back with ${code(`/agent trust ${decision.action.tool} require_approval`)}.`.value);
    }
  };
}
