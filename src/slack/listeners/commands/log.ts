import { renderLog } from '../../blocks/log.js';
import type { CommandContext } from './context.js';

/** `/agent log <run-id>`: in the run's channel, for its requester, or for admins. */
export async function logCommand(ctx: CommandContext, runId: string): Promise<void> {
  const { run, activity } = await ctx.services.control.log(ctx.payload.team_id, runId, { userId: ctx.payload.user_id, channelId: ctx.payload.channel_id });
  const { text, blocks } = renderLog(run, activity);
  await ctx.ack(text, blocks);
}
