import { renderRunStatus, renderWorkspaceStatus } from '../../blocks/status.js';
import type { CommandContext } from './context.js';

export async function statusCommand(ctx: CommandContext, runId: string | undefined): Promise<void> {
  if (runId) {
    const viewer = { userId: ctx.payload.user_id, channelId: ctx.payload.channel_id };
    const run = await ctx.services.control.visibleRun(ctx.payload.team_id, runId, viewer, 'status');
    const r = renderRunStatus(run);
    await ctx.ack(r.text, r.blocks);
    return;
  }
  const status = await ctx.services.control.status(ctx.payload.team_id);
  const r = renderWorkspaceStatus(status);
  await ctx.ack(r.text, r.blocks);
}
