/**
 * A loopback stand-in for Slack's Socket Mode WebSocket service, speaking the protocol Slack documents
 * ("Using Socket Mode"):
 * - apps.connections.open (on fakeSlack, with the app-level token) hands out a one-time `ws://` URL from
 *   `issueUrl()`; a URL whose ticket is unknown or already used is refused at the upgrade (HTTP 401);
 * - on connect the server sends `{type:'hello', num_connections, debug_info, connection_info}`;
 * - payloads arrive as envelopes `{envelope_id, type, payload, accepts_response_payload}` with type
 *   `slash_commands`, `interactive` or `events_api`; the app answers each with `{envelope_id, payload?}`;
 * - `{type:'disconnect', reason}` with reason `refresh_requested`, `warning` or `link_disabled` asks the app
 *   to reconnect (Slack then closes the link).
 * Anything else the app sends is recorded in `protocolErrors`, so a test can assert there was none.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { blockActionPayload, slashCommandBody, viewSubmissionPayload, type BlockActionOptions, type SlashCommandOptions, type ViewSubmissionOptions } from './slackRequests.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';
export type DisconnectReason = 'refresh_requested' | 'warning' | 'link_disabled' | 'too_many_websockets';

export interface SocketAck {
  envelope_id: string;
  /** What the app put in its ack (Bolt sends `{}` for a bare `ack()`). */
  payload: Record<string, unknown> | undefined;
  /** Time from sending the envelope to the ack: Slack gives up after 3 seconds. */
  afterMs: number;
}

export interface FakeSocketConnection {
  /** 1 for the first link that said hello, 2 for the next... */
  n: number;
  ws: WebSocket;
  closed: boolean;
}

export interface FakeSocketMode {
  /** A fresh one-time URL, as apps.connections.open returns: pass `() => fake.issueUrl()` to fakeSlack. */
  issueUrl(): string;
  /** Every link that was greeted, oldest first. */
  connections: FakeSocketConnection[];
  /** Upgrades refused for an unknown or reused ticket. */
  refused: number;
  /** Protocol violations by the app (unparseable frames, acks for unknown envelopes, binary frames). */
  protocolErrors: string[];
  /** Resolves with the n-th link (1-based) once Slack has greeted it. */
  waitForConnection(n: number, timeoutMs?: number): Promise<FakeSocketConnection>;
  waitForClosed(conn: FakeSocketConnection, timeoutMs?: number): Promise<void>;
  /** Sends an envelope on the newest open link; resolves with the app's ack. */
  send(type: EnvelopeType, payload: Record<string, unknown>, timeoutMs?: number): Promise<SocketAck>;
  slashCommand(o: SlashCommandOptions): Promise<SocketAck>;
  blockAction(o: BlockActionOptions): Promise<SocketAck>;
  viewSubmission(o: ViewSubmissionOptions): Promise<SocketAck>;
  /** Slack's `disconnect` message on the newest open link; `close` then closes the link from the server side. */
  disconnect(reason: DisconnectReason, opts?: { close?: boolean }): FakeSocketConnection;
  /** Cuts the newest open link without a close handshake, like a lost network. */
  drop(): FakeSocketConnection;
  /** New links are accepted but not greeted until `release()`: the app stays between connect and hello. */
  hold(): void;
  release(): void;
  /** Links accepted and waiting for their hello (see `hold`). */
  held(): number;
  close(): Promise<void>;
}

const APP_ID = 'A_APP';

async function poll<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = check();
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`fakeSocketMode: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startFakeSocketMode(): Promise<FakeSocketMode> {
  const tickets = new Set<string>();
  const connections: FakeSocketConnection[] = [];
  const protocolErrors: string[] = [];
  const pending = new Map<string, { conn: FakeSocketConnection; sentAt: number; resolve: (a: SocketAck) => void; reject: (e: Error) => void }>();
  let refused = 0;
  let holding = false;
  const heldLinks: WebSocket[] = [];

  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required');
  });
  const wss = new WebSocketServer({ noServer: true });

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const ticket = new URL(req.url ?? '/', 'http://x').searchParams.get('ticket') ?? '';
    if (!tickets.delete(ticket)) {
      refused += 1;
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => (holding ? heldLinks.push(ws) : greet(ws)));
  });

  const greet = (ws: WebSocket): void => {
    const conn: FakeSocketConnection = { n: connections.length + 1, ws, closed: false };
    connections.push(conn);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void protocolErrors.push(`link ${conn.n}: binary frame`);
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return void protocolErrors.push(`link ${conn.n}: not JSON: ${String(data).slice(0, 200)}`);
      }
      const envelopeId = (msg as { envelope_id?: unknown }).envelope_id;
      const waiting = typeof envelopeId === 'string' ? pending.get(envelopeId) : undefined;
      if (!waiting) return void protocolErrors.push(`link ${conn.n}: ack for no pending envelope: ${JSON.stringify(msg).slice(0, 200)}`);
      // Slack only takes the ack on the link the envelope went out on.
      if (waiting.conn !== conn) return void protocolErrors.push(`link ${conn.n}: ack for an envelope sent on link ${waiting.conn.n}`);
      pending.delete(envelopeId as string);
      const payload = (msg as { payload?: unknown }).payload;
      waiting.resolve({
        envelope_id: envelopeId as string,
        payload: typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : undefined,
        afterMs: Date.now() - waiting.sentAt,
      });
    });
    ws.on('close', () => {
      conn.closed = true;
      for (const [id, p] of pending) {
        if (p.conn !== conn) continue;
        pending.delete(id);
        p.reject(new Error(`fakeSocketMode: link ${conn.n} closed before envelope ${id} was acknowledged`));
      }
    });
    ws.on('error', () => undefined);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: connections.filter((c) => !c.closed).length,
        debug_info: { host: `fake-applink-${conn.n}`, build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: APP_ID },
      }),
    );
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  const newest = (): FakeSocketConnection => {
    const open = connections.filter((c) => !c.closed);
    const conn = open[open.length - 1];
    if (!conn) throw new Error('fakeSocketMode: no open link');
    return conn;
  };

  const send = (type: EnvelopeType, payload: Record<string, unknown>, timeoutMs = 10_000): Promise<SocketAck> => {
    const conn = newest();
    const envelopeId = randomUUID();
    return new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(envelopeId);
        reject(new Error(`fakeSocketMode: no ack for ${type} envelope ${envelopeId} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(envelopeId, {
        conn,
        sentAt: Date.now(),
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      conn.ws.send(
        JSON.stringify({
          envelope_id: envelopeId,
          type,
          payload,
          accepts_response_payload: type !== 'events_api',
          ...(type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
        }),
      );
    });
  };

  return {
    issueUrl() {
      const ticket = randomBytes(12).toString('hex');
      tickets.add(ticket);
      return `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=${APP_ID}`;
    },
    connections,
    get refused() {
      return refused;
    },
    protocolErrors,
    waitForConnection: (n, timeoutMs = 10_000) => poll(() => connections[n - 1], `link ${n}`, timeoutMs),
    waitForClosed: (conn, timeoutMs = 10_000) => poll(() => (conn.closed ? true : undefined), `link ${conn.n} to close`, timeoutMs).then(() => undefined),
    send,
    // Over Socket Mode a slash command's payload is the fields Slack would have form-posted, as JSON.
    slashCommand: (o) => send('slash_commands', Object.fromEntries(new URLSearchParams(slashCommandBody(o)))),
    blockAction: (o) => send('interactive', blockActionPayload(o)),
    viewSubmission: (o) => send('interactive', viewSubmissionPayload(o)),
    disconnect(reason, opts = {}) {
      const conn = newest();
      conn.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `fake-applink-${conn.n}` } }));
      if (opts.close) conn.ws.close(1000, reason);
      return conn;
    },
    drop() {
      const conn = newest();
      conn.ws.terminate();
      return conn;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const ws of heldLinks.splice(0)) if (ws.readyState === ws.OPEN) greet(ws);
    },
    held: () => heldLinks.filter((ws) => ws.readyState === ws.OPEN).length,
    async close() {
      for (const ws of [...connections.map((c) => c.ws), ...heldLinks]) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
