import { z } from 'zod';
import { OutcomeUnknownError, ToolError } from '../errors.js';
import { ambiguousServerError, failedBeforeSending, formatWait, networkErrorText } from './httpOutcome.js';

/** Graph API base used when WHATSAPP_API_URL is not set. */
export const WHATSAPP_DEFAULT_API_URL = 'https://graph.facebook.com/v21.0';

/**
 * Stable codes of the ToolErrors this connector throws (logged and shown in activity details). A send
 * whose result cannot be known throws OutcomeUnknownError with the code `whatsapp_outcome_unknown`.
 */
export type WhatsAppErrorCode =
  | 'whatsapp_invalid_recipient'
  | 'whatsapp_outside_24h_window'
  | 'whatsapp_rate_limited'
  | 'whatsapp_auth_failed'
  | 'whatsapp_permission_denied'
  | 'whatsapp_invalid_parameter'
  | 'whatsapp_unavailable'
  | 'whatsapp_failed';

export interface WhatsAppClientOptions {
  /** System-user or temporary access token with the whatsapp_business_messaging permission. */
  token: string;
  /** The business phone number's id (not the number itself), from the WhatsApp Manager. */
  phoneNumberId: string;
  /** Graph API base including the version, e.g. https://graph.facebook.com/v21.0. */
  apiUrl: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface WhatsAppClient {
  /** Sends a free-form text message. `to` is E.164 (`+15551234567`). */
  sendText(to: string, body: string, options?: { signal?: AbortSignal }): Promise<{ messageId: string }>;
}

const DEFAULT_TIMEOUT_MS = 15_000;

const sendResponseSchema = z.object({
  messages: z.array(z.object({ id: z.string().min(1) })).min(1),
});

const graphErrorSchema = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().optional(),
    error_subcode: z.number().optional(),
    error_data: z.object({ details: z.string().optional() }).loose().optional(),
    fbtrace_id: z.string().optional(),
  }),
});
type GraphError = z.infer<typeof graphErrorSchema>['error'];

/** WhatsApp Cloud API connector: one POST per message, no retries (a retried send can be a duplicate). */
export function createWhatsAppClient(opts: WhatsAppClientOptions): WhatsAppClient {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Resolved per call rather than captured: test HTTP fakes patch the global after modules load.
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const endpoint = `${opts.apiUrl.replace(/\/+$/, '')}/${encodeURIComponent(opts.phoneNumberId)}/messages`;

  return {
    async sendText(to, body, options = {}) {
      // The Cloud API documents `to` as digits with the country code; the tool validated E.164 already.
      const digits = to.trim().replace(/^\+/, '');
      if (!/^[1-9]\d{7,14}$/.test(digits)) {
        throw new ToolError('whatsapp_invalid_recipient', `WhatsApp message not sent: ${to} is not an E.164 phone number.`);
      }

      if (options.signal?.aborted) {
        throw new ToolError('whatsapp_failed', `WhatsApp message not sent: the run was stopped before the message to ${to} was sent.`);
      }

      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      const onAbort = () => controller.abort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let status: number;
      let retryAfter: string | null;
      let text: string;
      try {
        let res: Response;
        try {
          res = await doFetch(endpoint, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${opts.token}`,
              'content-type': 'application/json',
              accept: 'application/json',
            },
            body: JSON.stringify({
              messaging_product: 'whatsapp',
              recipient_type: 'individual',
              to: digits,
              type: 'text',
              // Link previews would fetch and render a third-party page the approver never saw on the card.
              text: { preview_url: false, body },
            }),
            signal: controller.signal,
          });
        } catch (err) {
          // Only a failure to connect proves the message never left. A timeout or a dropped connection may
          // come after Meta accepted it, and a resend could then deliver it twice.
          if (controller.signal.aborted || !failedBeforeSending(err)) throw unknownOutcome(noAnswer(err, options.signal, controller.signal.aborted, timeoutMs), opts.token);
          throw new ToolError('whatsapp_unavailable', redact(`WhatsApp message not sent: could not reach the WhatsApp API (${clip(networkErrorText(err), 200)}).`, opts.token));
        }
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        try {
          text = await res.text();
        } catch {
          // A 2xx status says Meta took the request; without the body there is no message id to confirm it by.
          if (status >= 200 && status < 300) throw unknownOutcome(`WhatsApp answered HTTP ${status}, but the rest of its answer (the message id) never arrived`, opts.token);
          text = '';
        }
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }

      const json = parseJson(text);
      if (status >= 200 && status < 300) {
        const parsed = sendResponseSchema.safeParse(json);
        if (!parsed.success) throw unknownOutcome(`WhatsApp answered HTTP ${status} without a message id`, opts.token);
        return { messageId: parsed.data.messages[0]!.id };
      }
      const graph = graphErrorSchema.safeParse(json);
      const error = graph.success ? graph.data.error : undefined;
      // A server error that does not say the message failed: Meta may have sent it before failing.
      // Graph codes 2 and 131016 (service down or overloaded) and 131000 ("message failed to send") do say
      // so; code 1 ("possible server error") does not.
      if (ambiguousServerError(status) && (error?.code === undefined || error.code === 1)) {
        throw unknownOutcome(`WhatsApp answered HTTP ${status}${error ? ` (${graphText(error)})` : ''}, which does not say whether the message was sent`, opts.token);
      }
      throw mapWhatsAppError(status, error, retryAfter, to, opts.token);
    },
  };
}

/** What stopped the answer from arriving, as a clause for OutcomeUnknownError's reason. */
function noAnswer(err: unknown, runSignal: AbortSignal | undefined, aborted: boolean, timeoutMs: number): string {
  if (runSignal?.aborted) return 'the send was interrupted (the run was stopped) before WhatsApp answered';
  if (aborted) return `WhatsApp did not answer within ${formatWait(timeoutMs)}`;
  return `the connection to WhatsApp was lost before its answer arrived (${clip(networkErrorText(err), 200)})`;
}

function unknownOutcome(reason: string, token: string): OutcomeUnknownError {
  return new OutcomeUnknownError('whatsapp_outcome_unknown', redact(reason, token));
}

const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131056]);

/**
 * Turns a Graph API failure into a sentence the model can act on. The Graph API's numeric code is the
 * contract (HTTP statuses vary: many messaging errors come back as 400), so codes are checked first.
 */
export function mapWhatsAppError(
  status: number,
  error: GraphError | undefined,
  retryAfter: string | null,
  to: string,
  token?: string,
): ToolError {
  const code = error?.code;
  const said = error ? ` WhatsApp said: ${graphText(error)}` : '';
  const make = (c: WhatsAppErrorCode, message: string) => new ToolError(c, redact(`${message}${said}`, token));

  if (code === 131026) {
    return make(
      'whatsapp_invalid_recipient',
      `WhatsApp message not sent: ${to} cannot receive WhatsApp messages (not a WhatsApp user, an invalid number, or an outdated app). Check the number with the requester.`,
    );
  }
  if (code === 131030) {
    return make(
      'whatsapp_invalid_recipient',
      `WhatsApp message not sent: ${to} is not in the allowed recipient list of this test WhatsApp number. The operator must add it in the WhatsApp Manager or use a production number.`,
    );
  }
  if (code === 131047) {
    return make(
      'whatsapp_outside_24h_window',
      `WhatsApp message not sent: more than 24 hours have passed since ${to} last replied, so WhatsApp only allows an approved template message now (this tool sends free-form text only). Ask the requester to reach them another way.`,
    );
  }
  if ((code !== undefined && RATE_LIMIT_CODES.has(code)) || status === 429) {
    return make('whatsapp_rate_limited', `WhatsApp message not sent: rate limit reached. ${retryHint(code, retryAfter)}`);
  }
  if (code === 190 || status === 401) {
    return make(
      'whatsapp_auth_failed',
      'WhatsApp message not sent: the WhatsApp access token is invalid or expired. Tell the requester that an operator must renew WHATSAPP_TOKEN; retrying will not help.',
    );
  }
  if (code === 10 || (code !== undefined && code >= 200 && code < 300) || status === 403) {
    return make(
      'whatsapp_permission_denied',
      'WhatsApp message not sent: the access token lacks permission for this phone number (it needs whatsapp_business_messaging). Tell the requester that an operator must fix the WhatsApp app setup.',
    );
  }
  if (status >= 500 || code === 1 || code === 2 || code === 131000 || code === 131016) {
    return make(
      'whatsapp_unavailable',
      `WhatsApp is unavailable right now (HTTP ${status}); the message to ${to} was not accepted. Try again in a few minutes.`,
    );
  }
  if (code === 100 || status === 400) {
    return make('whatsapp_invalid_parameter', `WhatsApp message not sent: WhatsApp rejected the request as invalid (HTTP ${status}).`);
  }
  return make('whatsapp_failed', `WhatsApp message not sent: WhatsApp answered HTTP ${status}.`);
}

function retryHint(code: number | undefined, retryAfter: string | null): string {
  const seconds = retryAfter !== null ? Number(retryAfter) : Number.NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return `Try again in about ${Math.ceil(seconds)} seconds.`;
  // A pair limit is per recipient: another recipient would go through, this one needs a pause.
  if (code === 131056) return `Too many messages to this number in a short time; wait a minute or more before messaging it again.`;
  return 'Wait a minute before trying again, and send fewer messages at once.';
}

/** `message (#code/subcode) details [fbtrace_id]`, which is what Meta support asks for. */
function graphText(error: GraphError): string {
  const parts: string[] = [];
  if (error.message) parts.push(error.message);
  const details = error.error_data?.details;
  if (details && details !== error.message) parts.push(`(${details})`);
  const code = error.code !== undefined ? `code ${error.code}${error.error_subcode !== undefined ? `/${error.error_subcode}` : ''}` : undefined;
  const trace = error.fbtrace_id ? `fbtrace_id ${error.fbtrace_id}` : undefined;
  const meta = [code, trace].filter(Boolean).join(', ');
  return `${clip(parts.join(' ') || 'no message', 500)}${meta ? ` [${meta}]` : ''}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Error texts are stored and shown to the model: the token must never be among them. */
function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('***') : text;
}
