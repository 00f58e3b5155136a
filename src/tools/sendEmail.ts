import { z } from 'zod';
import type { Mailer } from '../connectors/smtp.js';
import { ToolError } from './types.js';
import type { CallDescription, CallField, ToolDefinition } from './types.js';

const MAX_RECIPIENTS = 50;

// RFC 5321 bounds a path at 256 octets with its brackets; common servers (smtp-server among them) accept at
// most 253 characters for the address itself. The bound also bounds what a card must show.
const address = z.email().max(253);

export const sendEmailInputSchema = z
  .object({
    to: z.union([address, z.array(address).min(1).max(MAX_RECIPIENTS)]),
    // A CR or LF in a header value would let the model smuggle extra headers past the card.
    subject: z
      .string()
      .min(1)
      .max(300)
      .regex(/^[^\r\n]*$/, 'Subject must be a single line'),
    body: z.string().min(1).max(100_000),
    cc: z.array(address).max(MAX_RECIPIENTS).optional(),
  })
  .refine((input) => recipientsOf(input.to).length + (input.cc?.length ?? 0) <= MAX_RECIPIENTS, {
    message: `At most ${MAX_RECIPIENTS} recipients in To and Cc together`,
    path: ['to'],
  });

export type SendEmailInput = z.infer<typeof sendEmailInputSchema>;

/** What `prepare` stores with the call and the approval binds: run() sends as exactly this sender. */
const preparedSchema = z.object({
  from: z.object({ name: z.string().optional(), address: z.email() }).nullable(),
  fromSource: z.enum(['requester', 'shared']).nullable(),
  fromError: z.string().optional(),
});
type PreparedEmail = z.infer<typeof preparedSchema>;

export interface SendEmailDeps {
  mailer: Mailer;
  /** The requester's Slack profile (users.info); undefined when the user is unknown. */
  lookupSender(teamId: string, userId: string): Promise<{ name?: string; email?: string } | undefined>;
  /** EMAIL_FROM: `Name <addr>` or `addr`, used when the requester has no email on their profile. */
  emailFrom?: string;
  /** Right-hand side of generated Message-IDs. */
  messageIdDomain?: string;
}

export function createSendEmailTool(deps: SendEmailDeps): ToolDefinition<SendEmailInput> {
  return {
    name: 'send_email',
    description:
      "Send a plain-text email. It is sent from the requesting user's own address (or the workspace's " +
      'shared sender) and always waits for a human to approve the exact recipients, subject and body first. ' +
      '`to` is one address or a list; `cc` is optional; at most 50 recipients in total.',
    inputSchema: sendEmailInputSchema,
    hardFloor: true,

    // Lookup failures (Slack API down) propagate on purpose: silently falling back to the shared sender
    // would change who the email claims to be from.
    async prepare(_input, ctx): Promise<PreparedEmail> {
      const profile = await deps.lookupSender(ctx.run.teamId, ctx.run.requesterId);
      const email = profile?.email?.trim();
      if (email && address.safeParse(email).success) {
        return { from: withName(cleanName(profile?.name), email), fromSource: 'requester' };
      }
      if (deps.emailFrom !== undefined && deps.emailFrom.trim() !== '') {
        const shared = parseMailbox(deps.emailFrom);
        if (shared) return { from: shared, fromSource: 'shared' };
        throw new ToolError('email_failed', 'Email not sent: EMAIL_FROM is not a valid email address, and the requester has no email in Slack.');
      }
      // No sender means no card: an email that can only fail after approval would waste an approver's time.
      throw new ToolError(
        'email_failed',
        "Email not sent: no sender is configured (the requester's Slack profile has no email and EMAIL_FROM is not set).",
      );
    },

    describe(input, prepared): CallDescription {
      const to = recipientsOf(input.to);
      const others = to.length - 1;
      const toText = others === 0 ? to[0] : `${to[0]} and ${others} ${others === 1 ? 'other' : 'others'}`;
      const parsed = preparedSchema.safeParse(prepared);
      const from = parsed.success ? parsed.data.from : null;
      // Every recipient is listed (the card counts them and says how many it could not fit).
      const fields: CallField[] = [{ label: 'To', value: to }];
      if (input.cc && input.cc.length > 0) fields.push({ label: 'Cc', value: input.cc });
      fields.push({ label: 'Subject', value: input.subject });
      fields.push({ label: 'Sent as', value: from ? formatMailbox(from) : 'no sender configured' });
      return {
        summary: `Send email to ${toText}, subject '${input.subject}'`,
        fields,
        content: input.body,
        contentLabel: 'Email body',
      };
    },

    async run(input, ctx) {
      // Only the sender bound into the approval counts: re-resolving here could send as someone the
      // approver never saw (a changed profile, a changed EMAIL_FROM).
      const parsed = preparedSchema.safeParse(ctx.prepared);
      if (!parsed.success) {
        return { isError: true, content: 'Email not sent: the approved call has no valid sender recorded.' };
      }
      const { from, fromError } = parsed.data;
      if (!from) return { isError: true, content: `Email not sent: ${fromError ?? 'no sender is configured'}.` };

      const to = recipientsOf(input.to);
      const cc = input.cc ?? [];
      const messageId = `<${messageIdLocalPart(ctx.actionId)}@${deps.messageIdDomain ?? 'agent-approvals.local'}>`;
      try {
        const sent = await deps.mailer.send({
          from,
          to,
          ...(cc.length > 0 ? { cc } : {}),
          subject: input.subject,
          text: input.body,
          messageId,
        });
        const ccText = cc.length > 0 ? `, cc ${cc.join(', ')}` : '';
        // Some recipients accepted and some refused is still a sent email: reporting it as an error would
        // invite the model to send it again to everyone.
        const refused = sent.rejected.length > 0 ? ` The server refused: ${sent.rejected.join(', ')}.` : '';
        return { content: `Email sent to ${to.join(', ')}${ccText} (message id ${sent.messageId}).${refused}` };
      } catch (err) {
        // Only "not sent" failures are ToolErrors; an unknown outcome (OutcomeUnknownError) goes on to the dispatcher.
        if (err instanceof ToolError) return { isError: true, content: err.message };
        throw err;
      }
    },
  };
}

function recipientsOf(to: string | string[]): string[] {
  return typeof to === 'string' ? [to] : to;
}

function withName(name: string | undefined, addr: string): { name?: string; address: string } {
  return name ? { name, address: addr } : { address: addr };
}

/** Profile names are free text: no control characters (header injection), bounded length. */
function cleanName(name: string | undefined): string | undefined {
  const cleaned = name
    ?.replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
  return cleaned ? cleaned : undefined;
}

/** `Name <addr>`, `"Name" <addr>` or a bare `addr`; undefined when the address part is not an email. */
export function parseMailbox(value: string): { name?: string; address: string } | undefined {
  const angle = /^(.*)<([^<>]+)>\s*$/.exec(value.trim());
  const addr = (angle ? angle[2] : value)?.trim() ?? '';
  if (!address.safeParse(addr).success) return undefined;
  const rawName = angle?.[1]?.trim().replace(/^"(.*)"$/, '$1');
  return withName(cleanName(rawName), addr);
}

function formatMailbox(from: { name?: string; address: string }): string {
  return from.name ? `${from.name} <${from.address}>` : from.address;
}

/** Message-ID local parts are dot-atoms; action ids should already be, but never emit a broken header. */
function messageIdLocalPart(actionId: string): string {
  return actionId.replace(/[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]/g, '-');
}
