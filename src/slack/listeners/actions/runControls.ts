import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { md, mention, trusted } from '../../../text/mrkdwn.js';
import { renderResolved } from '../../blocks/runControls.js';
import { blockActionSchema, clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

type Kind = 'raise' | 'stop' | 'retry';

/** Raise cap and continue / Stop / Retry on a run's thread message. */
export function runControlAction(services: SlackServices, kind: Kind) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    const runId = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !runId) return;
    const userId = parsed.data.user.id;
    const tell = (text: string) => respond({ response_type: 'ephemeral', replace_original: false, text }).catch(() => undefined);
    try {
      // Only the run's own organisation controls it; the run's workspace is the one the core checks against.
      const run = await services.control.authorizeClick(runId, clickerOf(parsed.data), kind);
      const team = run.team_id;
      let outcome;
      if (kind === 'raise') outcome = md`:arrow_forward: ${mention(userId)}: ${await services.control.raiseCap(team, runId, userId)}.`;
      else if (kind === 'retry') {
        await services.control.retry(team, runId, userId);
        outcome = md`:repeat: Retried by ${mention(userId)}.`;
      } else {
        await services.control.confirmStop(team, runId, userId);
        outcome = md`:octagonal_sign: Left stopped by ${mention(userId)}.`;
      }
      // The buttons are used up: replace them with who did what. Slack sends back our own (escaped) text.
      const channel = parsed.data.container?.channel_id;
      const ts = parsed.data.container?.message_ts;
      const original = (body as { message?: { text?: string } }).message?.text ?? '';
      const text = original.trim() ? original : outcome.value;
      // Our own message's text comes back in the payload; it was safe mrkdwn when we posted it.
      if (channel && ts) await services.writes.replaceMessage(team, channel, ts, trusted(text), renderResolved(trusted(original), outcome));
    } catch (err) {
      if (isAppError(err)) return void (await tell(`:no_entry: ${err.message}`));
      services.logger.error({ err: errorMessage(err), runId }, 'run control failed');
      await tell(md`:x: That did not work: ${errorMessage(err)}`.value);
    }
  };
}
