import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { errorMessage } from '../../../errors.js';
import { eventEnvelopeSchema, tokensRevokedSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** Tokens were revoked: a bot token ends the workspace like an uninstall; user tokens are only dropped. */
export function tokensRevokedEvent(services: SlackServices) {
  return async ({ body, event }: SlackEventMiddlewareArgs<'tokens_revoked'> & AllMiddlewareArgs): Promise<void> => {
    const envelope = eventEnvelopeSchema.safeParse(body);
    const revoked = tokensRevokedSchema.safeParse(event);
    if (!envelope.success || !revoked.success) {
      services.logger.warn({ err: (envelope.error ?? revoked.error)?.message }, 'tokens_revoked without the fields Slack always sends; ignored');
      return;
    }
    try {
      await services.workspaces.tokensRevoked(envelope.data.team_id, revoked.data.tokens, new Date(envelope.data.event_time * 1000));
    } catch (err) {
      services.logger.error({ err: errorMessage(err), teamId: envelope.data.team_id }, 'handling tokens_revoked failed');
    }
  };
}
