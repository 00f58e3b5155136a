import type { CommandContext } from './context.js';

/**
 * `/agent rerun <run-id> [extra context]`: a new run in this channel, linked to its parent. The run (and
 * its task message in the outbox) is stored before the command is acknowledged.
 */
export async function rerunCommand(ctx: CommandContext, runId: string, extra: string): Promise<void> {
  const { payload, services } = ctx;
  await services.control.assertCanStart(payload.team_id);
  const run = await services.control.rerun(payload.team_id, runId, payload.user_id, payload.channel_id, extra, payload.response_url);
  await ctx.ack(`Starting run \`${run.id}\` (a rerun of \`${runId}\`).`);
  void services.engine.kick(run.id);
}
