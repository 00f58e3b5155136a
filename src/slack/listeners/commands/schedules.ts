import { renderSchedules } from '../../blocks/schedules.js';
import type { CommandContext } from './context.js';

export async function schedulesCommand(ctx: CommandContext): Promise<void> {
  const r = renderSchedules(await ctx.services.scheduler.list(ctx.payload.team_id));
  await ctx.ack(r.text, r.blocks);
}
