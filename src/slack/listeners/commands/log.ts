import { renderLog } from '../../blocks/log.js';
import type { CommandContext } from './context.js';

export async function logCommand(ctx: CommandContext, runId: string): Promise<void> {
  const { run, activity } = await ctx.services.control.log(ctx.payload.team_id, runId);
  const { text, blocks } = renderLog(run, activity);
  await ctx.ack(text, blocks);
}
