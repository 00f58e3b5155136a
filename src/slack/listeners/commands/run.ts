import { errorMessage } from '../../../errors.js';
import { md } from '../../../text/mrkdwn.js';
import type { CommandContext } from './context.js';

/** `/agent run <task>`: ack with the new run id at once, store the run, post the task message, start the loop. */
export async function runCommand(ctx: CommandContext, task: string): Promise<void> {
  const { payload, services } = ctx;
  await services.control.assertCanStart(payload.team_id);
  // Ack first (Slack's 3-second budget is shared with everything else in a burst), then store the run.
  const runId = services.engine.newRunId();
  await ctx.ack(`Starting run \`${runId}\`. Follow it in the thread of the task message.`);
  const run = await services.engine.startRun({
    id: runId,
    teamId: payload.team_id,
    channelId: payload.channel_id,
    requesterId: payload.user_id,
    task,
  });
  try {
    await services.engine.postTaskMessage(run.id);
  } catch (err) {
    await services.engine.failRun(run.id, 'slack_post_failed', `Could not post the task message: ${errorMessage(err)}`, { tellThread: false });
    await ctx
      .respond({
        response_type: 'ephemeral',
        text: md`:x: I could not post in this channel (${errorMessage(err)}), so run \`${run.id}\` did not start. Invite me with \`/invite @Agent\` and try again.`.value,
      })
      .catch((e: unknown) => services.logger.warn({ err: errorMessage(e), runId: run.id }, 'could not tell the requester'));
    return;
  }
  void services.engine.kick(run.id);
}
