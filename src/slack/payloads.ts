import { z } from 'zod';
import type { Clicker } from '../agent/organisation.js';

// Slack payloads are a boundary: listeners parse the few fields they use and refuse anything else.

export const slashCommandSchema = z.looseObject({
  team_id: z.string().min(1),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  text: z.string().default(''),
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
  /** Set on Enterprise Grid: the organisation the workspace belongs to. */
  enterprise_id: z.string().optional(),
});
export type SlashCommandPayload = z.infer<typeof slashCommandSchema>;

export const blockActionSchema = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: z.string().min(1), team_id: z.string().optional() }),
  team: z.looseObject({ id: z.string().min(1) }).nullish(),
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
  container: z.looseObject({ channel_id: z.string().optional(), message_ts: z.string().optional(), view_id: z.string().optional() }).optional(),
  /** Set when the click came from a modal (e.g. View full's page buttons). */
  view: z.looseObject({ id: z.string(), hash: z.string().optional(), private_metadata: z.string().default('') }).nullish(),
  actions: z.array(z.looseObject({ action_id: z.string(), value: z.string().optional() })).min(1),
});
export type BlockActionPayload = z.infer<typeof blockActionSchema>;

export function teamOf(p: BlockActionPayload): string {
  return p.team?.id ?? p.user.team_id ?? '';
}

/**
 * Who clicked or submitted, for the organisation check. Only `user.team_id` counts: it is the clicker's own
 * workspace (or, on Enterprise Grid, their organisation's E… id). The payload's `team` and `enterprise`
 * describe where the click happened, which in a shared channel is not who the clicker is.
 */
export function clickerOf(p: { user: { id: string; team_id?: string | undefined } }): Clicker {
  return { userId: p.user.id, orgId: p.user.team_id && p.user.team_id.length > 0 ? p.user.team_id : null };
}

/** Where a message click happened (the card's or notice's channel); null for clicks inside modals. */
export function channelOf(p: BlockActionPayload): string | null {
  return p.container?.channel_id ?? null;
}

export const viewSubmissionSchema = z.looseObject({
  type: z.literal('view_submission'),
  user: z.looseObject({ id: z.string().min(1), team_id: z.string().optional() }),
  team: z.looseObject({ id: z.string().min(1) }).nullish(),
  view: z.looseObject({
    callback_id: z.string(),
    private_metadata: z.string().default(''),
    state: z.looseObject({ values: z.record(z.string(), z.record(z.string(), z.looseObject({ value: z.string().nullish() }))) }),
  }),
});

export const rejectMetadataSchema = z.object({ actionId: z.string().min(1) });

export const viewFullMetadataSchema = z.object({ actionId: z.string().min(1), channelId: z.string().nullable().default(null) });
export const viewFullPageValueSchema = z.object({ actionId: z.string().min(1), page: z.number().int().min(0).max(10_000) });

/** The Events API envelope fields the app relies on. */
export const eventEnvelopeSchema = z.looseObject({
  team_id: z.string().min(1),
  /** Unix seconds, Slack's clock: when the event happened (a redelivery keeps it). */
  event_time: z.number().int().positive(),
});

export const tokensRevokedSchema = z.looseObject({
  type: z.literal('tokens_revoked'),
  tokens: z.looseObject({ oauth: z.array(z.string()).default([]), bot: z.array(z.string()).default([]) }),
});
