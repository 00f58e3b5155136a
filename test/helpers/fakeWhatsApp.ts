import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback WhatsApp Cloud API (Graph API) messages endpoint: POST /{version}/{phone-number-id}/messages
 * with a bearer token, answering `{ messaging_product, contacts, messages: [{ id }] }` or Graph errors
 * `{ error: { message, type, code, error_data, fbtrace_id } }`: 190 for a bad token, 100 for an invalid
 * parameter (a body over 4,096 characters, a bad type), 131026 for a number that is not on WhatsApp,
 * 130429 for throughput, and injected ones.
 */
export interface FakeWhatsAppMessage {
  to: string;
  body: string;
  id: string;
}

export interface FakeWhatsApp {
  /** The value for WHATSAPP_API_URL (`http://127.0.0.1:PORT/v21.0`). */
  apiUrl: string;
  token: string;
  phoneNumberId: string;
  /** Messages WhatsApp accepted, in order. */
  sent: FakeWhatsAppMessage[];
  /** Every request, accepted or not. */
  requests: Array<{ path: string; body: unknown; status: number }>;
  /** Numbers that are not WhatsApp users (error 131026). */
  notOnWhatsApp: Set<string>;
  /** The next `count` sends fail with this Graph error code (HTTP status as Meta uses for it). */
  failNext(code: 1 | 2 | 100 | 130429 | 131000 | 131026 | 131047 | 190, count?: number): void;
  close(): Promise<void>;
}

const STATUS_FOR: Record<number, number> = { 1: 500, 2: 503, 100: 400, 130429: 429, 131000: 500, 131026: 400, 131047: 400, 190: 401 };
const MESSAGE_FOR: Record<number, string> = {
  1: 'An unknown error occurred',
  2: 'Service temporarily unavailable',
  100: 'Invalid parameter',
  130429: 'Rate limit hit',
  131000: 'Something went wrong',
  131026: 'Message undeliverable',
  131047: 'Re-engagement message',
  190: 'Error validating access token: Session has expired.',
};

export async function startFakeWhatsApp(opts: { token?: string; phoneNumberId?: string; version?: string } = {}): Promise<FakeWhatsApp> {
  const token = opts.token ?? 'EAAJfakeWhatsAppToken';
  const phoneNumberId = opts.phoneNumberId ?? '106540352242922';
  const version = opts.version ?? 'v21.0';
  const sent: FakeWhatsAppMessage[] = [];
  const requests: FakeWhatsApp['requests'] = [];
  const notOnWhatsApp = new Set<string>();
  const failures: Array<{ code: number; left: number }> = [];

  const graphError = (res: ServerResponse, code: number, details?: string) => {
    json(res, STATUS_FOR[code] ?? 400, {
      error: {
        message: `(#${code}) ${MESSAGE_FOR[code] ?? 'Error'}`,
        type: 'OAuthException',
        code,
        ...(details ? { error_data: { messaging_product: 'whatsapp', details } } : {}),
        fbtrace_id: randomBytes(8).toString('base64url'),
      },
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      handle(path, body, req.method ?? 'GET', req.headers.authorization);
      requests.push({ path, body, status: res.statusCode });
    });

    function handle(path: string, body: unknown, method: string, auth: string | undefined): void {
      if (method !== 'POST' || path !== `/${version}/${phoneNumberId}/messages`) {
        return graphError(res, 100, `Unsupported ${method} request to ${path}`);
      }
      if (auth !== `Bearer ${token}`) return graphError(res, 190);
      const injected = failures.find((f) => f.left > 0);
      if (injected) {
        injected.left -= 1;
        return graphError(res, injected.code);
      }
      const b = body as { messaging_product?: unknown; to?: unknown; type?: unknown; text?: { body?: unknown } } | undefined;
      if (b?.messaging_product !== 'whatsapp') return graphError(res, 100, 'The parameter messaging_product is required.');
      if (typeof b.to !== 'string' || !/^\+?[1-9]\d{7,14}$/.test(b.to)) return graphError(res, 100, 'Invalid parameter: to');
      if (b.type !== 'text' || typeof b.text?.body !== 'string' || b.text.body.length === 0) return graphError(res, 100, 'Param text[\'body\'] is required.');
      if (b.text.body.length > 4096) return graphError(res, 100, "Param text['body'] must be at most 4096 characters long.");
      const digits = b.to.replace(/^\+/, '');
      if (notOnWhatsApp.has(digits)) return graphError(res, 131026, 'Message Undeliverable.');
      const id = `wamid.${randomBytes(18).toString('base64url')}`;
      sent.push({ to: digits, body: b.text.body, id });
      json(res, 200, { messaging_product: 'whatsapp', contacts: [{ input: b.to, wa_id: digits }], messages: [{ id }] });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/${version}`,
    token,
    phoneNumberId,
    sent,
    requests,
    notOnWhatsApp,
    failNext(code, count = 1) {
      failures.push({ code, left: count });
    },
    close: () => {
      // fetch keeps connections alive: without this, close() waits for them to time out.
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}
