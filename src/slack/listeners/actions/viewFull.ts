import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { viewFullModal } from '../../blocks/modals.js';
import { blockActionSchema, channelOf, viewFullMetadataSchema, viewFullPageValueSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** "View full": everything a call will carry out, paginated, for people who may see the run. */
export function viewFullAction(services: SlackServices) {
  return async ({ ack, body, client, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const actionId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !actionId || !parsed.data.trigger_id) return;
    const channelId = channelOf(parsed.data);
    try {
      const { action, description } = await services.approvals.viewFull(actionId, { userId: parsed.data.user.id, channelId });
      await client.views.open({ trigger_id: parsed.data.trigger_id, view: viewFullModal({ description, runId: action.run_id, actionId, channelId }) as never });
    } catch (err) {
      if (isAppError(err, 'not_allowed')) {
        await respond({ response_type: 'ephemeral', replace_original: false, text: `:lock: ${err.message}` }).catch(() => undefined);
        return;
      }
      services.logger.warn({ err: errorMessage(err), actionId }, 'could not open the full-content modal');
    }
  };
}

/** Previous / Next page inside the View full modal: the same visibility check, then the modal is updated. */
export function viewFullPageAction(services: SlackServices) {
  return async ({ ack, body, client }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    if (!parsed.success || !parsed.data.view) return;
    let target: { actionId: string; page: number };
    let opened: { actionId: string; channelId: string | null };
    try {
      target = viewFullPageValueSchema.parse(JSON.parse(parsed.data.actions[0]?.value ?? ''));
      opened = viewFullMetadataSchema.parse(JSON.parse(parsed.data.view.private_metadata));
    } catch {
      services.logger.warn('View full page click without usable metadata');
      return;
    }
    // The metadata is the app's own (Slack keeps it); the page button must belong to the same action.
    if (target.actionId !== opened.actionId) return;
    try {
      const { action, description } = await services.approvals.viewFull(opened.actionId, { userId: parsed.data.user.id, channelId: opened.channelId });
      const view = viewFullModal({ description, runId: action.run_id, actionId: opened.actionId, channelId: opened.channelId, page: target.page });
      await client.views.update({ view_id: parsed.data.view.id, ...(parsed.data.view.hash ? { hash: parsed.data.view.hash } : {}), view: view as never });
    } catch (err) {
      services.logger.warn({ err: errorMessage(err), actionId: opened.actionId }, 'could not turn the View full page');
    }
  };
}
