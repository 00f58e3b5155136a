import { errorMessage } from '../../../errors.js';
import { assistantThreadStartedSchema, eventEnvelopeSchema } from '../../eventPayloads.js';
import type { SlackServices } from '../../services.js';

/** `assistant_thread_started`: someone opened a thread on the app's AI surface. */
export async function onAssistantThreadStarted(services: SlackServices, args: { body: unknown; event: unknown }): Promise<void> {
  const envelope = eventEnvelopeSchema.safeParse(args.body);
  const parsed = assistantThreadStartedSchema.safeParse(args.event);
  if (!envelope.success || !parsed.success) {
    services.logger.warn('assistant_thread_started without its usual fields; ignored');
    return;
  }
  const t = parsed.data.assistant_thread;
  try {
    await services.conversations.assistantThreadStarted({
      eventId: envelope.data.event_id,
      teamId: envelope.data.team_id,
      channelId: t.channel_id,
      threadTs: t.thread_ts,
      userId: t.user_id,
    });
  } catch (err) {
    services.logger.error({ err: errorMessage(err) }, 'could not record an AI-surface thread');
  }
}
