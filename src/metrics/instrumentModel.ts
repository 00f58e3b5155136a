import type { ModelClient } from '../agent/modelClient.js';
import type { MetricsSink } from './sink.js';

/** Counts every model call and its usage, whoever makes it; the client itself is unchanged. */
export function instrumentModelClient(inner: ModelClient, metrics: MetricsSink): ModelClient {
  return {
    async create(req, opts) {
      try {
        const res = await inner.create(req, opts);
        metrics.modelCall(req.model, 'ok', res.usage);
        return res;
      } catch (err) {
        metrics.modelCall(req.model, 'error');
        throw err;
      }
    },
  };
}
