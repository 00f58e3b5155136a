import type { CommandContext } from './context.js';

export async function cancelCommand(ctx: CommandContext, runId: string): Promise<void> {
  const run = await ctx.services.control.cancel(ctx.payload.team_id, runId, ctx.payload.user_id);
  await ctx.ack(`Run \`${run.id}\` is cancelled. Its pending approval cards were closed.`);
}
