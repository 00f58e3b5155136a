import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { md } from '../../../text/mrkdwn.js';
import { renderSchedules } from '../../blocks/schedules.js';
import { blockActionSchema, channelOf, clickerOf, teamOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Pause / Resume / Delete from the `/agent schedules` list: admins of the workspace only, logged. */
export function scheduleAdminAction(services: SlackServices, to: 'paused' | 'active' | 'deleted') {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const id = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !id) return;
    const team = teamOf(parsed.data);
    const user = parsed.data.user.id;
    try {
      await services.control.authorizeTeamClick(team, clickerOf(parsed.data), 'schedule');
      await services.trust.requireAdmin(team, user, 'change schedules');
      await services.scheduler.adminSetStatus(team, id, to, user);
      // The list is re-rendered as the admin saw it: every channel's schedules.
      const r = renderSchedules(await services.scheduler.list(team), { allChannels: true, channelId: channelOf(parsed.data) ?? '' });
      await respond({ response_type: 'ephemeral', replace_original: true, text: r.text, blocks: r.blocks as never });
    } catch (err) {
      const text = isAppError(err) ? `:no_entry: ${err.message}` : md`:x: ${errorMessage(err)}`.value;
      await respond({ response_type: 'ephemeral', replace_original: false, text }).catch(() => undefined);
    }
  };
}
