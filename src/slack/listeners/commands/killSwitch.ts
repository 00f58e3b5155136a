import { md } from '../../../text/mrkdwn.js';
import type { CommandContext } from './context.js';

export async function disableCommand(ctx: CommandContext, reason: string): Promise<void> {
  const changed = await ctx.services.trust.disable(ctx.payload.team_id, ctx.payload.user_id, reason || null);
  if (changed) await ctx.services.engine.refreshPendingCards(ctx.payload.team_id);
  await ctx.ack(
    changed
      ? md`:octagonal_sign: The agent is disabled${reason ? md` (${reason})` : ''}: no new runs start, running runs stop at their next step, and waiting cards are on hold. \`/agent enable\` to turn it back on.`.value
      : 'The agent was already disabled.',
  );
}

export async function enableCommand(ctx: CommandContext): Promise<void> {
  const changed = await ctx.services.trust.enable(ctx.payload.team_id, ctx.payload.user_id);
  if (changed) await ctx.services.engine.refreshPendingCards(ctx.payload.team_id);
  await ctx.ack(changed ? ':arrow_forward: The agent is enabled again. Runs stopped by the kill switch stay stopped; use `/agent rerun`.' : 'The agent was not disabled.');
}
