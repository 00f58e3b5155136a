import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWhatsAppClient } from '../../src/connectors/whatsapp.js';
import { ToolError } from '../../src/tools/types.js';

// Shapes follow the WhatsApp Cloud API (Graph API) as documented by Meta: POST /{phone-number-id}/messages,
// success `{ messaging_product, contacts, messages: [{ id }] }`, failures `{ error: { message, type, code,
// error_data: { details }, fbtrace_id } }`.
const API = 'https://graph.facebook.com';
const API_URL = `${API}/v21.0`;
const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAJtestTOKENvalue123';
const MESSAGES_PATH = `/v21.0/${PHONE_NUMBER_ID}/messages`;
const WAMID = 'wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA';

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => nock.enableNetConnect());

function client(overrides: Partial<Parameters<typeof createWhatsAppClient>[0]> = {}) {
  return createWhatsAppClient({ token: TOKEN, phoneNumberId: PHONE_NUMBER_ID, apiUrl: API_URL, ...overrides });
}

function graphError(code: number, message: string, details?: string, extra: Record<string, unknown> = {}) {
  return {
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(details ? { error_data: { messaging_product: 'whatsapp', details } } : {}),
      fbtrace_id: 'AZpJ3kq1xYtW8bE',
      ...extra,
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  return err as ToolError;
}

describe('WhatsApp Cloud API connector', () => {
  it('sends a text message with the documented body and bearer token, and returns the wamid', async () => {
    let sent: unknown;
    const scope = nock(API, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } })
      .post(MESSAGES_PATH, (body) => {
        sent = body;
        return true;
      })
      .reply(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: '15551234567', wa_id: '15551234567' }],
        messages: [{ id: WAMID }],
      });

    await expect(client().sendText('+15551234567', 'Hi Sam, your order shipped.')).resolves.toEqual({ messageId: WAMID });
    expect(scope.isDone()).toBe(true);
    expect(sent).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '15551234567',
      type: 'text',
      text: { preview_url: false, body: 'Hi Sam, your order shipped.' },
    });
  });

  it('accepts a base URL with a trailing slash', async () => {
    const scope = nock(API).post(MESSAGES_PATH).reply(200, { messaging_product: 'whatsapp', messages: [{ id: WAMID }] });
    await client({ apiUrl: `${API_URL}/` }).sendText('+15551234567', 'x');
    expect(scope.isDone()).toBe(true);
  });

  it('refuses a number that is not E.164 before calling the API', async () => {
    const err = await failure(client().sendText('555-1234', 'x'));
    expect(err.code).toBe('whatsapp_invalid_recipient');
  });

  it('maps 131026 (undeliverable: not a WhatsApp user) to an invalid-recipient error', async () => {
    nock(API)
      .post(MESSAGES_PATH)
      .reply(
        400,
        graphError(
          131026,
          '(#131026) Message undeliverable',
          'Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.',
        ),
      );
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_invalid_recipient');
    expect(err.message).toContain('+15551234567 cannot receive WhatsApp messages');
    expect(err.message).toContain('not a WhatsApp phone number');
    expect(err.message).toContain('fbtrace_id AZpJ3kq1xYtW8bE');
  });

  it('maps 131047 (24-hour window) to an error saying a template message is needed', async () => {
    nock(API)
      .post(MESSAGES_PATH)
      .reply(
        400,
        graphError(
          131047,
          '(#131047) Re-engagement message',
          'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
        ),
      );
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_outside_24h_window');
    expect(err.message).toMatch(/more than 24 hours have passed since \+15551234567 last replied/);
    expect(err.message).toContain('template message');
  });

  it('maps 100 (invalid parameter) to a validation error carrying the details', async () => {
    nock(API)
      .post(MESSAGES_PATH)
      .reply(400, graphError(100, '(#100) Invalid parameter', "Param text['body'] must be at most 4096 characters long."));
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_invalid_parameter');
    expect(err.message).toContain("Param text['body'] must be at most 4096 characters long.");
  });

  it('maps 190 / HTTP 401 (expired token) to an auth error that names WHATSAPP_TOKEN and never echoes the token', async () => {
    nock(API)
      .post(MESSAGES_PATH)
      .reply(
        401,
        graphError(190, `Error validating access token: Session has expired on Tuesday, 10-Nov-26 (token ${TOKEN}).`, undefined, {
          error_subcode: 463,
        }),
      );
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_auth_failed');
    expect(err.message).toContain('invalid or expired');
    expect(err.message).toContain('WHATSAPP_TOKEN');
    expect(err.message).toContain('code 190/463');
    expect(err.message).not.toContain(TOKEN);
  });

  it('maps a 130429 throughput limit to a rate-limit error with the Retry-After hint', async () => {
    const scope = nock(API)
      .post(MESSAGES_PATH)
      .reply(429, graphError(130429, '(#130429) Rate limit hit', 'Cloud API message throughput has been reached.'), {
        'Retry-After': '30',
      });
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_rate_limited');
    expect(err.message).toContain('Try again in about 30 seconds');
    // One request only: a resent message could arrive twice.
    expect(scope.isDone()).toBe(true);
  });

  it.each([
    [131056, '(#131056) (Business Account, Consumer Account) pair rate limit hit', /wait a minute or more/],
    [80007, '(#80007) Rate limit issues', /Wait a minute before trying again/],
  ])('maps %i to a rate-limit error with a retry hint', async (code, message, hint) => {
    nock(API).post(MESSAGES_PATH).reply(400, graphError(code, message));
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_rate_limited');
    expect(err.message).toMatch(hint);
  });

  it('maps HTTP 500 to WhatsApp being unavailable', async () => {
    nock(API).post(MESSAGES_PATH).reply(500, graphError(1, 'An unknown error has occurred.'));
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_unavailable');
    expect(err.message).toContain('HTTP 500');
  });

  it('maps a non-JSON 502 from a proxy to WhatsApp being unavailable', async () => {
    nock(API).post(MESSAGES_PATH).reply(502, '<html>Bad Gateway</html>');
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_unavailable');
  });

  it('reports a connection failure as unavailable', async () => {
    nock(API).post(MESSAGES_PATH).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_unavailable');
  });

  it('gives up after the timeout and says the message may have been sent', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const err = await failure(client({ fetch: hanging, timeoutMs: 30 }).sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_timeout');
    expect(err.message).toContain('may or may not have been sent');
  });

  it('treats a 200 without a message id as unknown, not as success', async () => {
    nock(API).post(MESSAGES_PATH).reply(200, { messaging_product: 'whatsapp', messages: [] });
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_failed');
    expect(err.message).toContain('may have been sent');
  });
});
