import type { WebClient } from '@slack/web-api';
import type { ConversationOutcome, IncomingMessage } from '../../../agent/threads.js';
import { errorMessage } from '../../../errors.js';
import { code, md, mention } from '../../../text/mrkdwn.js';
import { eventEnvelopeSchema, notFromAPerson, personMessageSchema, withoutAppMention } from '../../eventPayloads.js';
import type { SlackServices } from '../../services.js';

/** What Bolt hands an event listener (the parts used here). */
export interface EventArgs {
  body: unknown;
  event: unknown;
  client: WebClient;
  context: { botUserId?: string; retryNum?: number; retryReason?: string };
}

/**
 * A person's message that reached the app: `app_mention` in a channel, or a message in the app's DM.
 * Parses, drops what no person wrote, hands it to the core and answers privately when the answer is
 * only for the writer. Bolt has already acknowledged the event (it does for every Events API request).
 */
export async function onPersonMessage(services: SlackServices, args: EventArgs, surface: 'channel' | 'dm'): Promise<void> {
  const envelope = eventEnvelopeSchema.safeParse(args.body);
  const parsed = personMessageSchema.safeParse(args.event);
  if (!envelope.success || !parsed.success) {
    services.logger.warn({ surface }, 'Slack event without the fields a message always has; ignored');
    return;
  }
  const m = parsed.data;
  if (surface === 'dm' && m.channel_type !== 'im') return;
  const botUserId = args.context.botUserId;
  const skip = notFromAPerson(m, botUserId);
  if (skip) {
    services.logger.debug({ eventId: envelope.data.event_id, why: skip }, 'message not from a person; ignored');
    return;
  }
  if (args.context.retryNum) {
    // Slack redelivers when it did not see our 200 in time; the event id makes acting twice impossible.
    services.logger.info({ eventId: envelope.data.event_id, retryNum: args.context.retryNum, reason: args.context.retryReason }, 'Slack redelivered an event');
  }
  const teamId = envelope.data.team_id;
  // Slack sets thread_ts on a thread's parent too (equal to its ts): that message is not inside a thread.
  const threadTs = m.thread_ts && m.thread_ts !== m.ts ? m.thread_ts : undefined;
  const incoming: IncomingMessage = {
    eventId: envelope.data.event_id,
    teamId,
    channelId: m.channel,
    userId: m.user as string,
    orgId: m.user_team ?? m.team,
    text: withoutAppMention(m.text, botUserId),
    ts: m.ts,
    threadTs,
    surface,
  };
  let outcome: ConversationOutcome;
  try {
    outcome = await services.conversations.handle(
      incoming,
      () => services.threadReader.read({ client: args.client, teamId, channel: m.channel, threadTs: threadTs ?? m.ts, beforeTs: m.ts }),
      botUserId,
    );
  } catch (err) {
    services.logger.error({ err: errorMessage(err), eventId: incoming.eventId }, 'could not act on a message');
    await tell(services, args.client, incoming, md`:x: Something went wrong: ${errorMessage(err)}. Nothing was started.`.value);
    return;
  }
  const answer = privateAnswer(outcome, surface);
  if (answer) await tell(services, args.client, incoming, answer);
}

/** The private answer to the writer, when the outcome needs one (mrkdwn, escaped where it quotes anyone). */
function privateAnswer(outcome: ConversationOutcome, surface: 'channel' | 'dm'): string | undefined {
  switch (outcome.kind) {
    case 'refused':
      return outcome.message;
    case 'empty':
      return surface === 'dm'
        ? 'Tell me what to do, for example `summarise the Q2 report`. Anything that reaches other people waits for approval.'
        : 'Tell me what to do after the mention, for example `@Agent summarise the Q2 report`.';
    case 'not_requester':
      return md`Run ${code(outcome.run.id)} belongs to ${mention(outcome.run.requester_id)}: only they can steer it, so your message was not passed to it. To give me a task of your own, mention me in a new message.`.value;
    case 'context':
      return md`Your message was passed to run ${code(outcome.run.id)} as context, not as an instruction: it is ${mention(outcome.run.requester_id)}'s run.`.value;
    case 'duplicate':
    case 'started':
    case 'steered':
      return undefined;
  }
}

/** An ephemeral answer (only the writer sees it), in the thread they wrote in. */
async function tell(services: SlackServices, client: WebClient, m: IncomingMessage, text: string): Promise<void> {
  try {
    await client.chat.postEphemeral({ channel: m.channelId, user: m.userId, text, thread_ts: m.threadTs ?? m.ts });
  } catch (err) {
    services.logger.warn({ err: errorMessage(err), channel: m.channelId }, 'could not answer privately');
  }
}
