import { errorMessage } from '../../../errors.js';
import type { CommandContext } from './context.js';

/** `/agent run <task>`: store the run, ack at once, then post the task message and start the loop. */
export async function runCommand(ctx: CommandContext, task: string): Promise<void> {
  const { payload, services } = ctx;
  await services.control.assertCanStart(payload.team_id);
  const run = await services.engine.startRun({
    teamId: payload.team_id,
    channelId: payload.channel_id,
    requesterId: payload.user_id,
    task,
  });
  await ctx.ack(`Starting run \`${run.id}\`. Follow it in the thread of the task message.`);
  try {
    await services.engine.postTaskMessage(run.id);
  } catch (err) {
    await services.engine.failRun(run.id, 'slack_post_failed', `Could not post the task message: ${errorMessage(err)}`, { tellThread: false });
    await ctx
      .respond({
        response_type: 'ephemeral',
        text: `:x: I could not post in this channel (${errorMessage(err)}), so run \`${run.id}\` did not start. Invite me with \`/invite @Agent\` and try again.`,
      })
      .catch((e: unknown) => services.logger.warn({ err: errorMessage(e), runId: run.id }, 'could not tell the requester'));
    return;
  }
  void services.engine.kick(run.id);
}
