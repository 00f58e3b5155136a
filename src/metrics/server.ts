import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { AppMetrics } from './appMetrics.js';

/**
 * `GET /metrics` in Prometheus text format, on its own port (METRICS_PORT) so it can stay inside the
 * private network while PORT faces Slack. Everything else is 404.
 */
export async function listenMetrics(port: number, metrics: AppMetrics, logger: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(body);
      },
      (err: unknown) => {
        logger.warn({ err: errorMessage(err) }, 'could not collect metrics');
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('could not collect metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
