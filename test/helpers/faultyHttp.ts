import http from 'node:http';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the loopback server received it, body complete. */
export interface ReceivedRequest {
  method: string;
  path: string;
  body: string;
}

/**
 * What the server does once a request has fully arrived:
 * - `hang`: never answers (the client's timeout decides);
 * - `drop`: closes the connection without a byte of response (a crash or a proxy cutting it);
 * - a status (and body): answers it, like a gateway or the API itself would.
 */
export type FaultMode = 'hang' | 'drop' | { status: number; body?: string | object; headers?: Record<string, string> };

export interface FaultyHttpServer {
  /** http://127.0.0.1:PORT */
  url: string;
  requests: ReceivedRequest[];
  setMode(mode: FaultMode): void;
  waitForRequests(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback that misbehaves after the request has left the client: the situations
 * in which a sender cannot know whether its POST took effect.
 */
export async function startFaultyHttpServer(initial: FaultMode): Promise<FaultyHttpServer> {
  let mode = initial;
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      for (const wake of waiters) wake();
      if (mode === 'hang') return;
      if (mode === 'drop') {
        req.socket.destroy();
        return;
      }
      const { status, body, headers } = mode;
      const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'object' ? 'application/json' : 'text/html', ...headers });
      res.end(text);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode(next) {
      mode = next;
    },
    waitForRequests(n, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (requests.length < n) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(requests.slice());
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`Expected ${n} request(s) within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port nothing listens on (bound, then released): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
