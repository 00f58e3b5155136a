import { renderSchedules } from '../../blocks/schedules.js';
import type { CommandContext } from './context.js';

/** `/agent schedules`: this channel's recurring runs; admins see every channel's. */
export async function schedulesCommand(ctx: CommandContext): Promise<void> {
  const { team_id: team, user_id: user, channel_id: channel } = ctx.payload;
  const allChannels = await ctx.services.control.visibility.isAdmin(team, user);
  const list = await ctx.services.scheduler.listVisible(team, channel, allChannels);
  const r = renderSchedules(list, { allChannels, channelId: channel });
  await ctx.ack(r.text, r.blocks);
}
