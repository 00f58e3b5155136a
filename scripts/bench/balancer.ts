/**
 * A plain round-robin HTTP load balancer on loopback, for the "several instances" section: Slack posts
 * every request of an app to one URL, so several instances sit behind one address. Each request goes to
 * the next instance in turn, unchanged (Bolt checks the signature over the raw body and the headers), and
 * the answer comes back unchanged. No stickiness and no health checks: what a minimal proxy does.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, Worker, workerData } from 'node:worker_threads';

export interface Balancer {
  url: string;
  /** Requests forwarded to each upstream so far, in the order given. */
  counts: number[];
  /** Requests that no upstream answered (answered 502 here). */
  errors: number;
  /** Their socket errors, by code. */
  errorCodes: Record<string, number>;
  close(): Promise<void>;
}

export async function startBalancer(upstreams: string[]): Promise<Balancer> {
  if (upstreams.length === 0) throw new Error('the balancer needs at least one upstream');
  const targets = upstreams.map((u) => new URL(u));
  // Kept-alive connections to each instance, as a real balancer keeps: no TCP handshake per request.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const counts = upstreams.map(() => 0);
  let next = 0;
  const state = { errors: 0, codes: {} as Record<string, number> };

  const send = (i: number, req: IncomingMessage, body: Buffer, res: ServerResponse, retried: boolean) => {
    const target = targets[i]!;
    const upstream = request(
      // A retry goes on a connection of its own: the other idle ones may be closing at the same moment.
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: retried ? false : agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // The instance closed an idle kept-alive connection just as it was reused (Node closes them after
      // 5 s idle, all of a burst's at about the same moment): the request never reached it, so sending
      // it again on a fresh connection is safe (what proxies do).
      if (!retried && upstream.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && !res.headersSent) {
        send(i, req, body, res, true);
        return;
      }
      state.errors++;
      state.codes[err.code ?? err.message] = (state.codes[err.code ?? err.message] ?? 0) + 1;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    });
    upstream.end(body);
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const i = next;
    next = (next + 1) % targets.length;
    counts[i]!++;
    // Slack's requests are small: read the whole body first, so a request can be sent again.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => send(i, req, Buffer.concat(chunks), res, false));
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
    get errorCodes() {
      return { ...state.codes };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/**
 * The balancer in a worker thread of its own: a real balancer is a separate process, and its event loop
 * must not wait behind the bench's load generator and fakes on the main thread (nor slow them down).
 */
export interface BalancerThread {
  url: string;
  stats(): Promise<BalancerStats>;
  close(): Promise<void>;
}

export interface BalancerStats {
  counts: number[];
  errors: number;
  errorCodes: Record<string, number>;
}

type FromWorker = { url: string } | { stats: BalancerStats } | { closed: true } | { error: string };

export async function startBalancerThread(upstreams: string[]): Promise<BalancerThread> {
  // Worker threads do not inherit tsx's loader on Node 20: register it inside the worker first.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); const m = await import(${JSON.stringify(self)}); await m.serveInWorker();`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData: { upstreams } });
  const next = (what: string) =>
    new Promise<FromWorker>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the balancer thread did not answer (${what}) within 30 s`)), 30_000);
      worker.once('message', (m: FromWorker) => {
        clearTimeout(timer);
        if ('error' in m) reject(new Error(`balancer thread: ${m.error}`));
        else resolve(m);
      });
    });
  worker.once('error', () => undefined);
  const started = await next('start');
  if (!('url' in started)) throw new Error('the balancer thread did not report its address');
  return {
    url: started.url,
    async stats() {
      const answer = next('stats');
      worker.postMessage('stats');
      const m = await answer;
      if (!('stats' in m)) throw new Error('unexpected answer from the balancer thread');
      return m.stats;
    },
    async close() {
      const answer = next('close').catch(() => undefined);
      worker.postMessage('close');
      await answer;
      await worker.terminate();
    },
  };
}

/** Entry point inside the worker thread. */
export async function serveInWorker(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('serveInWorker runs in a worker thread');
  try {
    const lb = await startBalancer((workerData as { upstreams: string[] }).upstreams);
    port.on('message', (msg: 'stats' | 'close') => {
      if (msg === 'stats') port.postMessage({ stats: { counts: [...lb.counts], errors: lb.errors, errorCodes: lb.errorCodes } });
      else void lb.close().then(() => port.postMessage({ closed: true }));
    });
    port.postMessage({ url: lb.url });
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}
