import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { renderResolved } from '../../blocks/runControls.js';
import { blockActionSchema, teamOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';
import { trusted } from '../../../text/mrkdwn.js';

type Kind = 'raise' | 'stop' | 'retry';

/** Raise cap and continue / Stop / Retry on a run's thread message. */
export function runControlAction(services: SlackServices, kind: Kind) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const runId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !runId) return;
    const userId = parsed.data.user.id;
    const team = teamOf(parsed.data);
    const tell = (text: string) => respond({ response_type: 'ephemeral', replace_original: false, text }).catch(() => undefined);
    try {
      let outcome: string;
      if (kind === 'raise') outcome = `:arrow_forward: <@${userId}>: ${await services.control.raiseCap(team, runId, userId)}.`;
      else if (kind === 'retry') {
        await services.control.retry(team, runId, userId);
        outcome = `:repeat: Retried by <@${userId}>.`;
      } else {
        await services.control.confirmStop(team, runId, userId);
        outcome = `:octagonal_sign: Left stopped by <@${userId}>.`;
      }
      // The buttons are used up: replace them with who did what.
      const channel = parsed.data.container?.channel_id;
      const ts = parsed.data.container?.message_ts;
      const original = (body as { message?: { text?: string } }).message?.text ?? '';
      // Our own message's text comes back in the payload; it was safe mrkdwn when we posted it.
      if (channel && ts) await services.writes.replaceMessage(team, channel, ts, trusted(original || outcome), renderResolved(original, outcome));
    } catch (err) {
      if (isAppError(err)) return void (await tell(`:no_entry: ${err.message}`));
      services.logger.error({ err: errorMessage(err), runId }, 'run control failed');
      await tell(`:x: That did not work: ${errorMessage(err)}`);
    }
  };
}
