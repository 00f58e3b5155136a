import { z } from 'zod';

// Slack payloads are a boundary: listeners parse the few fields they use and refuse anything else.

export const slashCommandSchema = z.looseObject({
  team_id: z.string().min(1),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  text: z.string().default(''),
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
});
export type SlashCommandPayload = z.infer<typeof slashCommandSchema>;

export const blockActionSchema = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: z.string().min(1), team_id: z.string().optional() }),
  team: z.looseObject({ id: z.string().min(1) }).nullish(),
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
  container: z.looseObject({ channel_id: z.string().optional(), message_ts: z.string().optional() }).optional(),
  actions: z.array(z.looseObject({ action_id: z.string(), value: z.string().optional() })).min(1),
});
export type BlockActionPayload = z.infer<typeof blockActionSchema>;

export function teamOf(p: BlockActionPayload): string {
  return p.team?.id ?? p.user.team_id ?? '';
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
