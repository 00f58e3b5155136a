import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HubSpot CRM v3 (the parts the deal tools use), answering like HubSpot does: bearer-token auth
 * (401), unknown objects (404), stage values outside the deal's pipeline (400 VALIDATION_ERROR), the
 * ten-second rate limit (429 with policyName) and injected failures. Shapes follow HubSpot's public docs:
 * objects `{ id, properties, createdAt, updatedAt, archived }`, pipelines with `stages`, errors
 * `{ status: 'error', message, correlationId, category }`.
 */
export interface FakeStage {
  id: string;
  label: string;
  displayOrder: number;
  archived?: boolean;
}

export interface FakePipeline {
  id: string;
  label: string;
  stages: FakeStage[];
}

export interface FakeDeal {
  id: string;
  dealname: string;
  pipeline: string;
  dealstage: string;
  amount?: string;
}

export interface FakeHubSpotRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  status: number;
}

export interface FakeHubSpot {
  url: string;
  token: string;
  requests: FakeHubSpotRequest[];
  pipelines: Map<string, FakePipeline>;
  deals: Map<string, FakeDeal>;
  /** The next `count` requests whose `METHOD path` starts with `match` get this status (and HubSpot's body for it). */
  failNext(match: string, status: 401 | 403 | 429 | 500 | 502 | 503, count?: number): void;
  /** Requests of one kind, e.g. `PATCH /crm/v3/objects/deals/401`. */
  requestsTo(match: string): FakeHubSpotRequest[];
  close(): Promise<void>;
}

export const SALES_PIPELINE: FakePipeline = {
  id: 'default',
  label: 'Sales Pipeline',
  stages: [
    { id: 'appointmentscheduled', label: 'Appointment scheduled', displayOrder: 0 },
    { id: 'qualifiedtobuy', label: 'Qualified to buy', displayOrder: 1 },
    { id: 'contractsent', label: 'Contract sent', displayOrder: 2 },
    { id: 'closedwon', label: 'Closed won', displayOrder: 3 },
    { id: 'closedlost', label: 'Closed lost', displayOrder: 4 },
    { id: 'oldstage', label: 'Retired stage', displayOrder: 5, archived: true },
  ],
};

const CREATED = '2026-01-10T09:00:00.000Z';

export async function startFakeHubSpot(
  opts: { token?: string; pipelines?: FakePipeline[]; deals?: FakeDeal[]; requestsPerTenSeconds?: number; now?: () => number } = {},
): Promise<FakeHubSpot> {
  const now = opts.now ?? Date.now;
  const token = opts.token ?? 'pat-na1-fake-hubspot-token';
  const pipelines = new Map((opts.pipelines ?? [SALES_PIPELINE]).map((p) => [p.id, structuredClone(p)]));
  const deals = new Map((opts.deals ?? []).map((d) => [d.id, { ...d }]));
  const limit = opts.requestsPerTenSeconds ?? 100;
  const requests: FakeHubSpotRequest[] = [];
  const failures: Array<{ match: string; status: number; left: number }> = [];
  let windowStart = now();
  let inWindow = 0;

  const error = (res: ServerResponse, status: number, category: string, message: string, extra: Record<string, unknown> = {}) => {
    json(res, status, { status: 'error', message, correlationId: randomUUID(), category, ...extra });
  };

  const failureBody = (res: ServerResponse, status: number) => {
    switch (status) {
      case 401:
        return error(res, 401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found.');
      case 403:
        return error(res, 403, 'MISSING_SCOPES', 'This app hasn\'t been granted all required scopes to make this call.', {
          errors: [{ message: 'One or more of the following scopes are required.', context: { requiredGranularScopes: ['crm.objects.deals.read'] } }],
        });
      case 429:
        return error(res, 429, 'RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.', { errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
      default:
        return error(res, status, 'INTERNAL_ERROR', 'internal error');
    }
  };

  const dealJson = (d: FakeDeal) => ({
    id: d.id,
    properties: { hs_object_id: d.id, dealname: d.dealname, pipeline: d.pipeline, dealstage: d.dealstage, amount: d.amount ?? null, closedate: null, createdate: CREATED },
    createdAt: CREATED,
    updatedAt: new Date().toISOString(),
    archived: false,
    associations: { contacts: { results: [] } },
  });

  const stageJson = (s: FakeStage) => ({
    id: s.id,
    label: s.label,
    displayOrder: s.displayOrder,
    metadata: { isClosed: String(s.id.startsWith('closed')), probability: s.id === 'closedwon' ? '1.0' : '0.2' },
    createdAt: CREATED,
    updatedAt: CREATED,
    archived: s.archived === true,
    writePermissions: 'CRM_PERMISSIONS_ENFORCEMENT',
  });
  const pipelineJson = (p: FakePipeline) => ({ id: p.id, label: p.label, displayOrder: 0, createdAt: CREATED, updatedAt: CREATED, archived: false, stages: p.stages.map(stageJson) });

  const handle = (req: IncomingMessage, res: ServerResponse, path: string, body: unknown) => {
    if (req.headers.authorization !== `Bearer ${token}`) return failureBody(res, 401);
    const injected = failures.find((f) => f.left > 0 && `${req.method} ${path}`.startsWith(f.match));
    if (injected) {
      injected.left -= 1;
      return failureBody(res, injected.status);
    }
    if (now() - windowStart >= 10_000) {
      windowStart = now();
      inWindow = 0;
    }
    if (++inWindow > limit) {
      res.setHeader('retry-after', '1');
      return failureBody(res, 429);
    }
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && path === '/crm/v3/pipelines/deals') return json(res, 200, { results: [...pipelines.values()].map(pipelineJson) });
    if (req.method === 'GET' && (m = /^\/crm\/v3\/pipelines\/deals\/([^/]+)(\/stages)?$/.exec(path))) {
      const p = pipelines.get(decodeURIComponent(m[1]!));
      if (!p) return error(res, 404, 'OBJECT_NOT_FOUND', `Unable to find pipeline ${decodeURIComponent(m[1]!)}`);
      return json(res, 200, m[2] ? { results: p.stages.map(stageJson) } : pipelineJson(p));
    }
    if ((m = /^\/crm\/v3\/objects\/deals\/([^/]+)$/.exec(path))) {
      const deal = deals.get(decodeURIComponent(m[1]!));
      if (!deal) return error(res, 404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.');
      if (req.method === 'GET') return json(res, 200, dealJson(deal));
      if (req.method === 'PATCH') {
        const props = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
        if (!props || typeof props !== 'object') return error(res, 400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1: missing properties');
        const stage = props['dealstage'];
        if (stage !== undefined) {
          const allowed = pipelines.get(deal.pipeline)?.stages.filter((s) => s.archived !== true) ?? [];
          if (typeof stage !== 'string' || !allowed.some((s) => s.id === stage)) {
            return error(res, 400, 'VALIDATION_ERROR', `Property values were not valid: [{"isValid":false,"message":"${String(stage)} was not one of the allowed options","error":"INVALID_OPTION","name":"dealstage"}]`);
          }
          deal.dealstage = stage;
        }
        return json(res, 200, dealJson(deal));
      }
    }
    return error(res, 404, 'OBJECT_NOT_FOUND', `No route for ${req.method} ${path}`);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        return error(res, 400, 'VALIDATION_ERROR', 'Invalid input JSON');
      }
      handle(req, res, url.pathname, body);
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body, status: res.statusCode });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    pipelines,
    deals,
    failNext(match, status, count = 1) {
      failures.push({ match, status, left: count });
    },
    requestsTo(match) {
      return requests.filter((r) => `${r.method} ${r.path}`.startsWith(match));
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
  res.setHeader('content-type', 'application/json;charset=utf-8');
  res.end(JSON.stringify(body));
}
