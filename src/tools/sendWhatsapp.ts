import { z } from 'zod';
import type { WhatsAppClient } from '../connectors/whatsapp.js';
import { ToolError } from './types.js';
import type { CallDescription, ToolDefinition } from './types.js';

/** WhatsApp's own limit for a text message body. */
export const MAX_WHATSAPP_BODY = 4096;

export const sendWhatsappInputSchema = z.object({
  to: z
    .string()
    .trim()
    .regex(
      /^\+[1-9]\d{7,14}$/,
      'Give the number in E.164 format: a plus sign, the country code and the number, digits only, no spaces (e.g. +15551234567)',
    )
    .describe('Recipient phone number in E.164 format, e.g. +15551234567.'),
  // Not trimmed: the approver must see, and WhatsApp must receive, exactly the same text.
  body: z
    .string()
    .min(1, 'The message text is empty')
    .max(MAX_WHATSAPP_BODY, `WhatsApp text messages are limited to ${MAX_WHATSAPP_BODY} characters`)
    .refine((text) => text.trim() !== '', 'The message text is only whitespace')
    .describe('The exact message text (plain text; WhatsApp formatting such as *bold* is allowed).'),
});

export type SendWhatsappInput = z.infer<typeof sendWhatsappInputSchema>;

const DESCRIPTION =
  'Send a plain-text WhatsApp message from the business WhatsApp number to one phone number (E.164, e.g. ' +
  '+15551234567). A human always approves the exact number and text first. WhatsApp only delivers free-form ' +
  'text to people who messaged the business in the last 24 hours; otherwise the send fails (template ' +
  `messages are not supported by this tool). At most ${MAX_WHATSAPP_BODY} characters; no links are previewed.`;

export function createSendWhatsappTool(client: WhatsAppClient): ToolDefinition<SendWhatsappInput> {
  return {
    name: 'send_whatsapp',
    description: DESCRIPTION,
    inputSchema: sendWhatsappInputSchema,
    hardFloor: true,

    describe(input): CallDescription {
      return {
        summary: `Send WhatsApp message to ${input.to}`,
        fields: [{ label: 'To', value: input.to }],
        content: input.body,
        contentLabel: 'Message',
      };
    },

    async run(input, ctx) {
      try {
        const sent = await client.sendText(input.to, input.body, ctx.signal ? { signal: ctx.signal } : {});
        return { content: `WhatsApp message sent to ${input.to} (id ${sent.messageId}).` };
      } catch (err) {
        // API refusals (invalid number, 24-hour window, rate limit) are facts for the model, not crashes. An
        // unknown outcome (OutcomeUnknownError) is not one of them: it goes on to the dispatcher.
        if (err instanceof ToolError) return { isError: true, content: err.message };
        throw err;
      }
    },
  };
}
