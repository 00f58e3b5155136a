import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { errorMessage } from '../../../errors.js';
import type { SlackServices } from '../../services.js';

const appHomeOpenedSchema = z.looseObject({
  team_id: z.string().min(1),
  event: z.looseObject({ type: z.literal('app_home_opened'), user: z.string().min(1), tab: z.string().optional() }),
});

/**
 * The viewer opened the app's Home tab: it is published for them (through the outbox) and kept current
 * while they are a recent viewer. The Messages tab is the app's DM and needs nothing here.
 */
export function appHomeOpenedEvent(services: SlackServices) {
  return async ({ body }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs): Promise<void> => {
    const parsed = appHomeOpenedSchema.safeParse(body);
    if (!parsed.success) {
      services.logger.warn({ err: parsed.error.message }, 'app_home_opened without the fields Slack always sends; ignored');
      return;
    }
    const { team_id: teamId, event } = parsed.data;
    if (event.tab !== 'home') return;
    try {
      await services.home.opened(teamId, event.user);
    } catch (err) {
      services.logger.error({ err: errorMessage(err), teamId }, 'publishing the Home tab failed');
    }
  };
}
