import { z } from 'zod';

// Events API payloads are a boundary too: listeners parse the few fields they use.

/** The envelope around every event (Bolt passes it as `body`). */
export const eventEnvelopeSchema = z.looseObject({
  team_id: z.string().min(1),
  event_id: z.string().min(1),
  /** Set on Enterprise Grid. */
  enterprise_id: z.string().nullish(),
});

/** A message someone wrote: `app_mention` in channels, `message` in the app's DMs. */
export const personMessageSchema = z.looseObject({
  type: z.enum(['app_mention', 'message']),
  channel: z.string().min(1),
  ts: z.string().min(1),
  thread_ts: z.string().optional(),
  user: z.string().optional(),
  text: z.string().default(''),
  subtype: z.string().optional(),
  bot_id: z.string().optional(),
  bot_profile: z.unknown().optional(),
  channel_type: z.string().optional(),
  /** The writer's own workspace (differs from the envelope's in a channel shared with another organisation). */
  user_team: z.string().optional(),
  team: z.string().optional(),
});
export type PersonMessage = z.infer<typeof personMessageSchema>;

export const assistantThreadStartedSchema = z.looseObject({
  type: z.literal('assistant_thread_started'),
  assistant_thread: z.looseObject({
    user_id: z.string().min(1),
    channel_id: z.string().min(1),
    thread_ts: z.string().min(1),
  }),
});

/** Message subtypes that are still a person writing (a file with a comment, a reply also sent to the channel). */
const WRITTEN_SUBTYPES = new Set(['file_share', 'thread_broadcast']);

/**
 * Why a message must not start or steer anything, or undefined when a person wrote it: the app's own
 * messages, other apps and bots, edits, deletions, joins and other system messages never do.
 */
export function notFromAPerson(m: PersonMessage, botUserId: string | undefined): string | undefined {
  if (m.bot_id || m.bot_profile !== undefined || m.subtype === 'bot_message') return 'bot';
  if (m.subtype !== undefined && !WRITTEN_SUBTYPES.has(m.subtype)) return `subtype:${m.subtype}`;
  if (!m.user) return 'no_user';
  if (botUserId && m.user === botUserId) return 'self';
  return undefined;
}

/** The text without mentions of the app itself (`<@U123>` or `<@U123|agent>`). */
export function withoutAppMention(text: string, botUserId: string | undefined): string {
  if (!botUserId) return text.trim();
  return text.replace(new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, 'g'), ' ').replace(/[ \t]{2,}/g, ' ').trim();
}
