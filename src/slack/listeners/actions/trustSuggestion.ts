import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { suggestionButtonSchema, type SuggestionOutcome } from '../../../agent/trustSuggestions.js';
import { errorMessage, isAppError } from '../../../errors.js';
import { code, md, mention, trusted, type Mrkdwn } from '../../../text/mrkdwn.js';
import { resolveSuggestion } from '../../blocks/trustSuggestions.js';
import { blockActionSchema, clickerOf, teamOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** The clicked message as Slack sends it back: our own blocks and text. */
const clickedMessage = z.looseObject({ message: z.looseObject({ text: z.string().optional(), blocks: z.array(z.record(z.string(), z.unknown())).optional() }).optional() });

function outcomeLine(o: SuggestionOutcome, userId: string): Mrkdwn {
  switch (o.outcome) {
    case 'applied':
      return md`:white_check_mark: ${mention(userId)} applied it: ${code(o.actionType)} now runs on its own with a notice (${code('auto_notify')}).`;
    case 'dismissed':
      return md`:no_bell: ${mention(userId)} chose to keep approving ${code(o.actionType)}; it will not be suggested again for 30 days.`;
    case 'stale':
      return md`:information_source: ${code(o.actionType)} changed since this suggestion${o.mode ? md` (it is now ${code(o.mode)})` : md``}; nothing was changed.`;
  }
}

/**
 * "Run it with a notice" / "Keep asking" on a trust suggestion (digest message or App Home). The core
 * decides (admins only, stale buttons do nothing); the message is updated through the outbox.
 */
export function trustSuggestionAction(services: SlackServices, kind: 'apply' | 'dismiss') {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = blockActionSchema.safeParse(body);
    if (!parsed.success) return;
    const raw = parsed.data.actions[0]?.value;
    const button = (() => {
      try {
        return suggestionButtonSchema.parse(JSON.parse(raw ?? ''));
      } catch {
        return undefined;
      }
    })();
    if (!button) return;
    const team = teamOf(parsed.data);
    const userId = parsed.data.user.id;
    // App Home clicks carry no response_url: the answer is shown at the top of the clicker's Home, which is
    // republished (an applied or dismissed suggestion drops out of it).
    const tell = async (text: Mrkdwn) => {
      if (parsed.data.response_url) await respond({ response_type: 'ephemeral', replace_original: false, text: text.value }).catch(() => undefined);
      else await services.home.tell(team, userId, text).catch(() => undefined);
    };
    try {
      await services.control.authorizeTeamClick(team, clickerOf(parsed.data), 'trust_suggestion');
      const outcome = kind === 'apply' ? await services.suggestions.apply(team, userId, button) : await services.suggestions.dismiss(team, userId, button);
      const line = outcomeLine(outcome, userId);
      const channel = parsed.data.container?.channel_id;
      const ts = parsed.data.container?.message_ts;
      if (channel && ts && outcome.outcome !== 'stale') {
        const message = clickedMessage.safeParse(body).data?.message;
        // Our own message comes back with the click; its text was safe mrkdwn when it was posted.
        await services.writes.replaceMessage(team, channel, ts, trusted(message?.text || line.value), resolveSuggestion(message?.blocks, button.t, line));
      } else {
        await tell(line);
      }
    } catch (err) {
      if (isAppError(err)) return void (await tell(md`:no_entry: ${err.message}`));
      services.logger.error({ err: errorMessage(err), actionType: button.t }, 'trust suggestion failed');
      await tell(md`:x: That did not work: ${errorMessage(err)}`);
    }
  };
}
