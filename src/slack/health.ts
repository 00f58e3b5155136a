import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SocketState } from './socketConnection.js';

/**
 * GET /healthz. HTTP mode: 200 `{ok:true}` once the app is ready. Socket Mode: 200 only when the app is ready
 * AND Slack's WebSocket is connected, otherwise 503 saying which, e.g. `{ok:false, ready:true,
 * socket:'reconnecting'}`: without the link no command or click reaches the app.
 */
export function healthHandler(isReady: () => boolean, socketState?: () => SocketState) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    const ready = isReady();
    const body = socketState ? { ok: ready && socketState() === 'connected', ready, socket: socketState() } : { ok: ready };
    res.writeHead(body.ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/**
 * Socket Mode's only HTTP endpoint. Served by us rather than through Bolt's customRoutes, whose server
 * listens without reporting its port or a bind error (EADDRINUSE would surface as an uncaught exception).
 */
export function listenHealth(port: number, handler: ReturnType<typeof healthHandler>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/healthz') return handler(req, res);
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
