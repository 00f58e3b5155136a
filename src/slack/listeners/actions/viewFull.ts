import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage } from '../../../errors.js';
import { viewFullModal } from '../../blocks/modals.js';
import { blockActionSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** "View full": the exact content of a call, when the card had to truncate it. */
export function viewFullAction(services: SlackServices) {
  return async ({ ack, body, client }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const actionId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !actionId || !parsed.data.trigger_id) return;
    try {
      const { action, description } = await services.approvals.describe(actionId);
      await client.views.open({ trigger_id: parsed.data.trigger_id, view: viewFullModal({ description, runId: action.run_id }) as never });
    } catch (err) {
      services.logger.warn({ err: errorMessage(err), actionId }, 'could not open the full-content modal');
    }
  };
}
