import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWhatsAppClient } from '../../src/connectors/whatsapp.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { ToolError } from '../../src/tools/types.js';
import { closedPort, startFaultyHttpServer, type FaultyHttpServer } from '../helpers/faultyHttp.js';

// Shapes follow the WhatsApp Cloud API (Graph API) as documented by Meta: POST /{phone-number-id}/messages,
// success `{ messaging_product, contacts, messages: [{ id }] }`, failures `{ error: { message, type, code,
// error_data: { details }, fbtrace_id } }`.
const API = 'https://graph.facebook.com';
const API_URL = `${API}/v21.0`;
const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAJtestTOKENvalue123';
const MESSAGES_PATH = `/v21.0/${PHONE_NUMBER_ID}/messages`;
const WAMID = 'wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA';

beforeAll(() => {
  nock.disableNetConnect();
  // The loopback servers below are real: they misbehave the way a network or a gateway does.
  nock.enableNetConnect('127.0.0.1');
});
const servers: FaultyHttpServer[] = [];
afterEach(async () => {
  nock.cleanAll();
  await Promise.all(servers.splice(0).map((s) => s.close()));
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

/** The send must end "unknown": neither a ToolError ("not sent") nor a success. */
async function unknown(promise: Promise<unknown>): Promise<OutcomeUnknownError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutcomeUnknownError);
  expect(err).not.toBeInstanceOf(ToolError);
  expect((err as OutcomeUnknownError).code).toBe('whatsapp_outcome_unknown');
  expect((err as OutcomeUnknownError).reason).not.toMatch(/not sent/);
  return err as OutcomeUnknownError;
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

  it('treats HTTP 500 with "unknown error" (code 1) as outcome unknown: Meta may have sent it before failing', async () => {
    nock(API).post(MESSAGES_PATH).reply(500, graphError(1, 'An unknown error has occurred.'));
    const err = await unknown(client().sendText('+15551234567', 'x'));
    expect(err.reason).toContain('HTTP 500');
    expect(err.reason).toContain('does not say whether the message was sent');
  });

  it('treats a non-JSON 502 from a proxy as outcome unknown', async () => {
    nock(API).post(MESSAGES_PATH).reply(502, '<html>Bad Gateway</html>');
    const err = await unknown(client().sendText('+15551234567', 'x'));
    expect(err.reason).toContain('HTTP 502');
  });

  it.each([
    [503, 2, 'Service temporarily unavailable'],
    [500, 131000, 'Something went wrong'],
    [503, 131016, 'Service unavailable'],
  ])('maps HTTP %i with code %i (Meta says it did not send) to WhatsApp being unavailable', async (status, code, message) => {
    nock(API).post(MESSAGES_PATH).reply(status, graphError(code, message));
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_unavailable');
    expect(err.message).toContain(`HTTP ${status}`);
    expect(err.message).toContain('was not accepted');
  });

  it('maps a 503 without a Graph error (refused before processing) to WhatsApp being unavailable', async () => {
    nock(API).post(MESSAGES_PATH).reply(503, 'Service Unavailable');
    const err = await failure(client().sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_unavailable');
  });

  it('treats a connection reset after the request went out as outcome unknown', async () => {
    nock(API).post(MESSAGES_PATH).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const err = await unknown(client().sendText('+15551234567', 'x'));
    expect(err.reason).toContain('the connection to WhatsApp was lost before its answer arrived');
  });

  it('gives up after the timeout and says the message may have been sent', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const err = await unknown(client({ fetch: hanging, timeoutMs: 30 }).sendText('+15551234567', 'x'));
    expect(err.reason).toBe('WhatsApp did not answer within 30 ms');
  });

  it('treats a 200 without a message id as unknown, not as success', async () => {
    nock(API).post(MESSAGES_PATH).reply(200, { messaging_product: 'whatsapp', messages: [] });
    const err = await unknown(client().sendText('+15551234567', 'x'));
    expect(err.reason).toBe('WhatsApp answered HTTP 200 without a message id');
  });
});

describe('WhatsApp connector against a real loopback server that misbehaves after the request left', () => {
  // Long enough for a loopback request to arrive on a busy machine; only the "hang" test waits it out.
  async function graph(mode: Parameters<typeof startFaultyHttpServer>[0], timeoutMs = 10_000) {
    const server = await startFaultyHttpServer(mode);
    servers.push(server);
    return { server, wa: client({ apiUrl: `${server.url}/v21.0`, timeoutMs }) };
  }

  it('no answer within the timeout after Meta received the request: outcome unknown, sent once', async () => {
    const { server, wa } = await graph('hang', 2_000);
    const err = await unknown(wa.sendText('+15551234567', 'Your order shipped.'));
    expect(err.reason).toBe('WhatsApp did not answer within 2 s');
    expect(server.requests).toHaveLength(1);
    expect(JSON.parse(server.requests[0]!.body)).toMatchObject({ to: '15551234567', text: { body: 'Your order shipped.' } });
  });

  it('the connection closed after the request arrived, without a response: outcome unknown, sent once', async () => {
    const { server, wa } = await graph('drop');
    const err = await unknown(wa.sendText('+15551234567', 'Your order shipped.'));
    expect(err.reason).toMatch(/^the connection to WhatsApp was lost before its answer arrived \(/);
    expect(server.requests).toHaveLength(1);
  });

  it('a 504 from a gateway: outcome unknown', async () => {
    const { wa } = await graph({ status: 504, body: '<html>Gateway Timeout</html>' });
    const err = await unknown(wa.sendText('+15551234567', 'x'));
    expect(err.reason).toContain('HTTP 504');
  });

  it('connection refused: not sent, a plain failure', async () => {
    const port = await closedPort();
    const err = await failure(client({ apiUrl: `http://127.0.0.1:${port}/v21.0`, timeoutMs: 10_000 }).sendText('+15551234567', 'x'));
    expect(err.code).toBe('whatsapp_unavailable');
    expect(err.message).toMatch(/^WhatsApp message not sent: could not reach the WhatsApp API \(ECONNREFUSED\)/);
  });

  it('a run stopped before the send: not sent, and nothing reaches the API', async () => {
    const { server, wa } = await graph({ status: 200, body: { messaging_product: 'whatsapp', messages: [{ id: WAMID }] } });
    const stopped = new AbortController();
    stopped.abort();
    const err = await failure(wa.sendText('+15551234567', 'x', { signal: stopped.signal }));
    expect(err.message).toMatch(/^WhatsApp message not sent: the run was stopped/);
    expect(server.requests).toHaveLength(0);
  });

  it('a run stopped while the request is in flight: outcome unknown', async () => {
    const { server, wa } = await graph('hang');
    const stop = new AbortController();
    const sending = wa.sendText('+15551234567', 'x', { signal: stop.signal });
    await server.waitForRequests(1);
    stop.abort();
    const err = await unknown(sending);
    expect(err.reason).toContain('the run was stopped');
  });
});
