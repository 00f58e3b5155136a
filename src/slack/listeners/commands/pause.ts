import { md } from '../../../text/mrkdwn.js';
import type { CommandContext } from './context.js';

export async function pauseCommand(ctx: CommandContext, reason: string): Promise<void> {
  const changed = await ctx.services.trust.pause(ctx.payload.team_id, ctx.payload.user_id, reason || null);
  await ctx.ack(changed ? md`:double_vertical_bar: Automation is paused${reason ? md` (${reason})` : ''}: every tool call now needs approval. \`/agent unpause\` to resume.`.value : 'Automation was already paused.');
}

export async function unpauseCommand(ctx: CommandContext): Promise<void> {
  const changed = await ctx.services.trust.unpause(ctx.payload.team_id, ctx.payload.user_id);
  await ctx.ack(changed ? ':arrow_forward: Automation resumed: trust levels apply again.' : 'Automation was not paused.');
}
