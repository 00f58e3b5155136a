import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { renderSchedules } from '../../blocks/schedules.js';
import { blockActionSchema, teamOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Pause / Resume / Delete from the `/agent schedules` list: admins only, logged. */
export function scheduleAdminAction(services: SlackServices, to: 'paused' | 'active' | 'deleted') {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const id = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !id) return;
    const team = teamOf(parsed.data);
    const user = parsed.data.user.id;
    try {
      await services.trust.requireAdmin(team, user, 'change schedules');
      await services.scheduler.adminSetStatus(team, id, to, user);
      const r = renderSchedules(await services.scheduler.list(team));
      await respond({ response_type: 'ephemeral', replace_original: true, text: r.text, blocks: r.blocks as never });
    } catch (err) {
      const text = isAppError(err) ? `:no_entry: ${err.message}` : `:x: ${errorMessage(err)}`;
      await respond({ response_type: 'ephemeral', replace_original: false, text }).catch(() => undefined);
    }
  };
}
