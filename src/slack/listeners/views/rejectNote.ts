import type { AllMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';
import { errorMessage } from '../../../errors.js';
import { REJECT_NOTE_ACTION, REJECT_NOTE_BLOCK } from '../../blocks/modals.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { clickerOf, rejectMetadataSchema, viewSubmissionSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** The Reject modal was submitted: close it, then reject (which cancels the run). */
export function rejectNoteSubmission(services: SlackServices) {
  return async ({ ack, body, client }: SlackViewMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    const parsed = viewSubmissionSchema.safeParse(body);
    if (!parsed.success) return void (await ack());
    let actionId: string;
    try {
      actionId = rejectMetadataSchema.parse(JSON.parse(parsed.data.view.private_metadata)).actionId;
    } catch {
      await ack();
      services.logger.warn('reject modal without usable metadata');
      return;
    }
    const note = parsed.data.view.state.values[REJECT_NOTE_BLOCK]?.[REJECT_NOTE_ACTION]?.value ?? null;
    const userId = parsed.data.user.id;
    // The rejection is stored before the dialog closes: an acknowledged submission can never be lost.
    const decided = services.approvals.reject({ actionId, userId, note, clicker: clickerOf(parsed.data) });
    await decided.then(
      () => ack(),
      () => ack(),
    );
    try {
      const decision = await decided;
      if (decision.action.card_channel && (decision.outcome === 'already_decided' || decision.outcome === 'not_allowed')) {
        const text = decision.outcome === 'not_allowed' ? `:no_entry: ${decision.why} Nothing was changed.` : alreadyDecidedText(decision.action);
        // A card in the task thread gets its private answer in that thread, not in the channel.
        const { run } = await services.approvals.describe(actionId);
        const threadTs = run && run.channel_id === decision.action.card_channel ? run.thread_ts : null;
        await client.chat.postEphemeral({ channel: decision.action.card_channel, user: userId, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
      }
    } catch (err) {
      services.logger.error({ err: errorMessage(err), actionId }, 'reject failed');
    }
  };
}
