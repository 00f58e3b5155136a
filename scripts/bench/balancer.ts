/**
 * A plain round-robin HTTP load balancer on loopback, for the "several instances" section: Slack posts
 * every request of an app to one URL, so several instances sit behind one address. Each request goes to
 * the next instance in turn, unchanged (Bolt checks the signature over the raw body and the headers), and
 * the answer comes back unchanged. No stickiness and no health checks: what a minimal proxy does.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Balancer {
  url: string;
  /** Requests forwarded to each upstream so far, in the order given. */
  counts: number[];
  /** Requests that no upstream answered (answered 502 here). */
  errors: number;
  close(): Promise<void>;
}

export async function startBalancer(upstreams: string[]): Promise<Balancer> {
  if (upstreams.length === 0) throw new Error('the balancer needs at least one upstream');
  const targets = upstreams.map((u) => new URL(u));
  // Kept-alive connections to each instance, as a real balancer keeps: no TCP handshake per request.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const counts = upstreams.map(() => 0);
  let next = 0;
  const state = { errors: 0 };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const i = next;
    next = (next + 1) % targets.length;
    counts[i]!++;
    const target = targets[i]!;
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      state.errors++;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    });
    req.pipe(upstream);
  };

  const server = createServer(forward);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    get errors() {
      return state.errors;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
