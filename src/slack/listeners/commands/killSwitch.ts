import type { CommandContext } from './context.js';

export async function disableCommand(ctx: CommandContext, reason: string): Promise<void> {
  const changed = await ctx.services.trust.disable(ctx.payload.team_id, ctx.payload.user_id, reason || null);
  if (changed) await ctx.services.engine.refreshPendingCards(ctx.payload.team_id);
  await ctx.ack(
    changed
      ? `:octagonal_sign: The agent is disabled${reason ? ` (${reason})` : ''}: no new runs start, running runs stop at their next step, and waiting cards are on hold. \`/agent enable\` to turn it back on.`
      : 'The agent was already disabled.',
  );
}

export async function enableCommand(ctx: CommandContext): Promise<void> {
  const changed = await ctx.services.trust.enable(ctx.payload.team_id, ctx.payload.user_id);
  if (changed) await ctx.services.engine.refreshPendingCards(ctx.payload.team_id);
  await ctx.ack(changed ? ':arrow_forward: The agent is enabled again. Runs stopped by the kill switch stay stopped; use `/agent rerun`.' : 'The agent was not disabled.');
}
