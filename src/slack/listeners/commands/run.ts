import type { CommandContext } from './context.js';

/**
 * `/agent run <task>`: the run and its task message (in the outbox) are stored first, then Slack is
 * acknowledged with the run id: an acknowledged command can never be lost. The loop starts after the ack.
 */
export async function runCommand(ctx: CommandContext, task: string): Promise<void> {
  const { payload, services } = ctx;
  await services.control.assertCanStart(payload.team_id);
  const run = await services.engine.startRun({
    teamId: payload.team_id,
    channelId: payload.channel_id,
    requesterId: payload.user_id,
    task,
    ...(payload.response_url ? { responseUrl: payload.response_url } : {}),
  });
  await ctx.ack(`Starting run \`${run.id}\`. Follow it in the thread of the task message.`);
  setImmediate(() => void services.engine.kick(run.id));
}
