import { errorMessage } from '../../../errors.js';
import { md } from '../../../text/mrkdwn.js';
import type { CommandContext } from './context.js';

/** `/agent rerun <run-id> [extra context]`: a new run in this channel, linked to its parent. */
export async function rerunCommand(ctx: CommandContext, runId: string, extra: string): Promise<void> {
  const { payload, services } = ctx;
  await services.control.assertCanStart(payload.team_id);
  const run = await services.control.rerun(payload.team_id, runId, payload.user_id, payload.channel_id, extra);
  await ctx.ack(`Starting run \`${run.id}\` (a rerun of \`${runId}\`).`);
  try {
    await services.engine.postTaskMessage(run.id);
  } catch (err) {
    await services.engine.failRun(run.id, 'slack_post_failed', `Could not post the task message: ${errorMessage(err)}`, { tellThread: false });
    await ctx.respond({ response_type: 'ephemeral', text: md`:x: I could not post in this channel (${errorMessage(err)}). Invite me and try again.`.value }).catch(() => undefined);
    return;
  }
  void services.engine.kick(run.id);
}
