import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { errorMessage } from '../../../errors.js';
import { eventEnvelopeSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** The app was removed from a workspace: its runs stop and its tokens are deleted. */
export function appUninstalledEvent(services: SlackServices) {
  return async ({ body }: SlackEventMiddlewareArgs<'app_uninstalled'> & AllMiddlewareArgs): Promise<void> => {
    const parsed = eventEnvelopeSchema.safeParse(body);
    if (!parsed.success) {
      services.logger.warn({ err: parsed.error.message }, 'app_uninstalled without the fields Slack always sends; ignored');
      return;
    }
    try {
      await services.workspaces.remove(parsed.data.team_id, 'app_uninstalled', new Date(parsed.data.event_time * 1000));
    } catch (err) {
      services.logger.error({ err: errorMessage(err), teamId: parsed.data.team_id }, 'handling app_uninstalled failed');
    }
  };
}
