import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { SlashCommandPayload } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

/** What a subcommand handler gets: the parsed payload, the core, and how to answer privately. */
export interface CommandContext {
  payload: SlashCommandPayload;
  services: SlackServices;
  /** Acknowledge with a private (ephemeral) answer. Must be called once, within 3 seconds. */
  ack(text: string, blocks?: Record<string, unknown>[]): Promise<void>;
  respond: RespondFn;
  client: WebClient;
}

export async function ackPrivately(
  ack: (body: { response_type: 'ephemeral'; text: string; blocks?: never }) => Promise<void>,
  text: string,
  blocks?: Record<string, unknown>[],
): Promise<void> {
  await ack({ response_type: 'ephemeral', text, ...(blocks ? { blocks: blocks as never } : {}) });
}
