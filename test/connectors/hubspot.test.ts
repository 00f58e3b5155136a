import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHubSpotClient, retryDelayMs } from '../../src/connectors/hubspot.js';
import type { HubSpotClientOptions } from '../../src/connectors/hubspot.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { ToolError } from '../../src/tools/types.js';
import { closedPort, startFaultyHttpServer, type FaultyHttpServer } from '../helpers/faultyHttp.js';

// Shapes follow HubSpot's CRM v3 API: search `{ total, results: [{ id, properties, ... }] }`, object reads
// with `associations.contacts.results`, pipelines with `stages`, and errors
// `{ status: 'error', message, correlationId, category }` (429s carry `errorType` and `policyName`).
const API = 'https://api.hubapi.com';
const TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555';

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

function client(overrides: Partial<HubSpotClientOptions> = {}) {
  const sleeps: number[] = [];
  const hubspot = createHubSpotClient({
    token: TOKEN,
    apiUrl: API,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { hubspot, sleeps };
}

const hs = () => nock(API, { reqheaders: { authorization: `Bearer ${TOKEN}` } });

const record = (id: string, properties: Record<string, string | null>) => ({
  id,
  properties: { hs_object_id: id, createdate: '2026-01-10T09:00:00.000Z', ...properties },
  createdAt: '2026-01-10T09:00:00.000Z',
  updatedAt: '2026-10-01T12:00:00.000Z',
  archived: false,
});

const PIPELINE = {
  id: 'default',
  label: 'Sales Pipeline',
  displayOrder: 0,
  archived: false,
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  stages: [
    { id: 'closedwon', label: 'Closed won', displayOrder: 3, metadata: { isClosed: 'true', probability: '1.0' }, archived: false },
    { id: 'appointmentscheduled', label: 'Appointment scheduled', displayOrder: 0, metadata: { isClosed: 'false', probability: '0.2' }, archived: false },
    { id: 'qualifiedtobuy', label: 'Qualified', displayOrder: 1, metadata: { isClosed: 'false', probability: '0.4' }, archived: false },
    { id: 'oldstage', label: 'Old stage', displayOrder: 2, metadata: { isClosed: 'false', probability: '0.5' }, archived: true },
    { id: 'closedlost', label: 'Closed lost', displayOrder: 4, metadata: { isClosed: 'true', probability: '0.0' }, archived: false },
  ],
};

const DEAL = {
  ...record('401', {
    dealname: 'Acme renewal',
    dealstage: 'qualifiedtobuy',
    amount: '12000',
    pipeline: 'default',
    closedate: '2026-12-01T00:00:00Z',
  }),
  associations: {
    contacts: {
      // HubSpot lists the unlabelled and the labelled association to the same contact separately.
      results: [
        { id: '201', type: 'deal_to_contact' },
        { id: '201', type: 'deal_to_contact_primary' },
        { id: '202', type: 'deal_to_contact' },
      ],
    },
  },
};

const DEAL_QUERY = { properties: 'dealname,dealstage,amount,pipeline,closedate', associations: 'contacts' };

const hubspotError = (category: string, message: string, extra: Record<string, unknown> = {}) => ({
  status: 'error',
  message,
  correlationId: '3f1b8a52-7c1e-4d8e-9a55-0b6b2c9d1e77',
  category,
  ...extra,
});

const RATE_LIMIT = {
  status: 'error',
  message: 'You have reached your ten_secondly_rolling limit.',
  errorType: 'RATE_LIMIT',
  correlationId: '9d0c1a2b-3e4f-5a6b-7c8d-9e0f1a2b3c4d',
  policyName: 'TEN_SECONDLY_ROLLING',
  groupName: 'api-calls-private-app',
};

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  return err as ToolError;
}

/** The change must end "unknown": neither a ToolError ("not changed") nor a success. */
async function unknown(promise: Promise<unknown>): Promise<OutcomeUnknownError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutcomeUnknownError);
  expect(err).not.toBeInstanceOf(ToolError);
  expect((err as OutcomeUnknownError).code).toBe('hubspot_outcome_unknown');
  return err as OutcomeUnknownError;
}

describe('HubSpot connector: search', () => {
  it('searches contacts, companies and deals with the documented bodies and labels deal stages', async () => {
    const bodies: Record<string, unknown> = {};
    const capture = (name: string) => (body: unknown) => {
      bodies[name] = body;
      return true;
    };
    const scope = hs()
      .post('/crm/v3/objects/contacts/search', capture('contacts'))
      .reply(200, {
        total: 7,
        results: [record('201', { firstname: 'Jane', lastname: 'Doe', email: 'jane@acme.com', company: 'Acme Inc' })],
        paging: { next: { after: '1' } },
      })
      .post('/crm/v3/objects/companies/search', capture('companies'))
      .reply(200, { total: 1, results: [record('301', { name: 'Acme Inc', domain: 'acme.com' })] })
      .post('/crm/v3/objects/deals/search', capture('deals'))
      .reply(200, {
        total: 1,
        results: [
          record('401', { dealname: 'Acme renewal', dealstage: 'qualifiedtobuy', amount: '12000', pipeline: 'default', closedate: '2026-12-01T00:00:00Z' }),
        ],
      })
      .get('/crm/v3/pipelines/deals/default')
      .reply(200, PIPELINE);

    const { hubspot } = client();
    const found = await hubspot.search('acme');

    expect(scope.isDone()).toBe(true);
    expect(bodies).toEqual({
      contacts: { query: 'acme', filterGroups: [], sorts: [], after: '0', limit: 5, properties: ['firstname', 'lastname', 'email', 'company'] },
      companies: { query: 'acme', filterGroups: [], sorts: [], after: '0', limit: 5, properties: ['name', 'domain'] },
      deals: { query: 'acme', filterGroups: [], sorts: [], after: '0', limit: 5, properties: ['dealname', 'dealstage', 'amount', 'pipeline', 'closedate'] },
    });
    expect(found.contacts).toEqual({ total: 7, items: [{ id: '201', name: 'Jane Doe', email: 'jane@acme.com', company: 'Acme Inc' }] });
    expect(found.companies).toEqual({ total: 1, items: [{ id: '301', name: 'Acme Inc', domain: 'acme.com' }] });
    expect(found.deals?.items).toEqual([
      {
        id: '401',
        name: 'Acme renewal',
        pipelineId: 'default',
        stageId: 'qualifiedtobuy',
        stageLabel: 'Qualified',
        amount: '12000',
        closeDate: '2026-12-01T00:00:00Z',
      },
    ]);
    expect(found.failed).toEqual([]);
  });

  it('still returns the other kinds when one is refused for a missing scope', async () => {
    hs()
      .post('/crm/v3/objects/contacts/search')
      .reply(200, { total: 0, results: [] })
      .post('/crm/v3/objects/companies/search')
      .reply(
        403,
        hubspotError('MISSING_SCOPES', "This app hasn't been granted all required scopes to make this call.", {
          errors: [{ message: 'One or more of the following scopes are required.', context: { requiredGranularScopes: ['crm.objects.companies.read'] } }],
          links: { scopes: 'https://developers.hubspot.com/scopes' },
        }),
      )
      .post('/crm/v3/objects/deals/search')
      .reply(200, { total: 0, results: [] });

    const found = await client().hubspot.search('acme');
    expect(found.companies).toBeNull();
    expect(found.contacts).toEqual({ total: 0, items: [] });
    expect(found.failed).toHaveLength(1);
    expect(found.failed[0]?.objectType).toBe('companies');
    expect(found.failed[0]?.message).toContain('missing the scope crm.objects.companies.read');
  });

  it('fails as a whole when every search fails (e.g. an invalid token)', async () => {
    const body = hubspotError('INVALID_AUTHENTICATION', 'Authentication credentials not found.');
    hs()
      .post('/crm/v3/objects/contacts/search')
      .reply(401, body)
      .post('/crm/v3/objects/companies/search')
      .reply(401, body)
      .post('/crm/v3/objects/deals/search')
      .reply(401, body);
    const err = await failure(client().hubspot.search('acme'));
    expect(err.code).toBe('hubspot_auth_failed');
  });
});

describe('HubSpot connector: deals', () => {
  it('reads a deal with its stage label and associated contacts (each once, in association order)', async () => {
    let batchBody: unknown;
    const scope = hs()
      .get('/crm/v3/objects/deals/401')
      .query(DEAL_QUERY)
      .reply(200, DEAL)
      .get('/crm/v3/pipelines/deals/default')
      .reply(200, PIPELINE)
      .post('/crm/v3/objects/contacts/batch/read', (body) => {
        batchBody = body;
        return true;
      })
      .reply(200, {
        status: 'COMPLETE',
        results: [
          record('202', { firstname: 'Raj', lastname: 'Patel', email: 'raj@acme.com', company: null }),
          record('201', { firstname: 'Jane', lastname: 'Doe', email: 'jane@acme.com', company: 'Acme Inc' }),
        ],
        startedAt: '2026-11-01T10:00:00Z',
        completedAt: '2026-11-01T10:00:01Z',
      });

    const deal = await client().hubspot.getDeal('401');

    expect(scope.isDone()).toBe(true);
    expect(batchBody).toEqual({
      inputs: [{ id: '201' }, { id: '202' }],
      properties: ['firstname', 'lastname', 'email', 'company'],
      propertiesWithHistory: [],
    });
    expect(deal).toMatchObject({
      id: '401',
      name: 'Acme renewal',
      stageId: 'qualifiedtobuy',
      stageLabel: 'Qualified',
      pipelineId: 'default',
      pipelineLabel: 'Sales Pipeline',
      amount: '12000',
      closeDate: '2026-12-01T00:00:00Z',
      contactsTotal: 2,
    });
    expect(deal.contacts.map((c) => c.name)).toEqual(['Jane Doe', 'Raj Patel']);
    // Archived stages are not offered; the rest come in board order.
    expect(deal.stages.map((s) => s.id)).toEqual(['appointmentscheduled', 'qualifiedtobuy', 'closedwon', 'closedlost']);
  });

  it('skips the contacts read when asked to', async () => {
    const scope = hs().get('/crm/v3/objects/deals/401').query(DEAL_QUERY).reply(200, DEAL).get('/crm/v3/pipelines/deals/default').reply(200, PIPELINE);
    const deal = await client().hubspot.getDeal('401', { contacts: false });
    expect(scope.isDone()).toBe(true);
    expect(deal.contacts).toEqual([]);
  });

  it('reports an unknown deal as not found', async () => {
    hs()
      .get('/crm/v3/objects/deals/999')
      .query(DEAL_QUERY)
      .reply(404, hubspotError('OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { context: { id: ['999'] } }));
    const err = await failure(client().hubspot.getDeal('999'));
    expect(err.code).toBe('hubspot_not_found');
    expect(err.message).toContain('HubSpot has no deal with id 999');
  });

  it('lists pipeline stages', async () => {
    hs().get('/crm/v3/pipelines/deals/default').reply(200, PIPELINE);
    const stages = await client().hubspot.pipelineStages('default');
    expect(stages[0]).toEqual({ id: 'appointmentscheduled', label: 'Appointment scheduled', displayOrder: 0 });
  });

  it('updates the stage with a PATCH of the dealstage property', async () => {
    let patched: unknown;
    const scope = hs()
      .patch('/crm/v3/objects/deals/401', (body) => {
        patched = body;
        return true;
      })
      .reply(200, record('401', { dealstage: 'closedwon', dealname: 'Acme renewal' }));
    await expect(client().hubspot.updateDealStage('401', 'closedwon')).resolves.toEqual({ id: '401', stageId: 'closedwon' });
    expect(scope.isDone()).toBe(true);
    expect(patched).toEqual({ properties: { dealstage: 'closedwon' } });
  });
});

describe('HubSpot connector: errors', () => {
  it('maps a 400 VALIDATION_ERROR to a validation error with HubSpot\'s message', async () => {
    hs()
      .patch('/crm/v3/objects/deals/401')
      .reply(
        400,
        hubspotError(
          'VALIDATION_ERROR',
          'Property values were not valid: [{"isValid":false,"message":"nope was not one of the allowed options","error":"INVALID_OPTION","name":"dealstage"}]',
        ),
      );
    const err = await failure(client().hubspot.updateDealStage('401', 'nope'));
    expect(err.code).toBe('hubspot_validation_error');
    expect(err.message).toContain('nope was not one of the allowed options');
    expect(err.message).toContain('correlation id 3f1b8a52');
  });

  it('maps 401 to an invalid/expired token that the operator must replace', async () => {
    hs()
      .get('/crm/v3/pipelines/deals/default')
      .reply(401, hubspotError('EXPIRED_AUTHENTICATION', 'The OAuth token used to make this call expired 2 day(s) ago.'));
    const err = await failure(client().hubspot.pipelineStages('default'));
    expect(err.code).toBe('hubspot_auth_failed');
    expect(err.message).toContain('HUBSPOT_TOKEN');
    expect(err.message).not.toContain(TOKEN);
  });

  it('maps 403 without scope details to the scope the call needs, and lists all four', async () => {
    hs().patch('/crm/v3/objects/deals/401').reply(403, hubspotError('MISSING_SCOPES', "This app hasn't been granted all required scopes to make this call."));
    const err = await failure(client().hubspot.updateDealStage('401', 'closedwon'));
    expect(err.code).toBe('hubspot_missing_scope');
    expect(err.message).toContain('missing the scope crm.objects.deals.write');
    for (const scope of ['crm.objects.contacts.read', 'crm.objects.companies.read', 'crm.objects.deals.read', 'crm.objects.deals.write']) {
      expect(err.message).toContain(scope);
    }
  });

  it('retries a 429 after the Retry-After delay and then succeeds', async () => {
    const scope = hs()
      .get('/crm/v3/pipelines/deals/default')
      .reply(429, RATE_LIMIT, { 'Retry-After': '2' })
      .get('/crm/v3/pipelines/deals/default')
      .reply(200, PIPELINE);
    const { hubspot, sleeps } = client();
    await expect(hubspot.pipelineStages('default')).resolves.toHaveLength(4);
    expect(scope.isDone()).toBe(true);
    expect(sleeps).toEqual([2000]);
  });

  it('retries a 429 on PATCH too (a 429 was not applied) and sends the same body', async () => {
    const bodies: unknown[] = [];
    const capture = (body: unknown) => {
      bodies.push(body);
      return true;
    };
    hs()
      .patch('/crm/v3/objects/deals/401', capture)
      .reply(429, RATE_LIMIT, { 'Retry-After': '1' })
      .patch('/crm/v3/objects/deals/401', capture)
      .reply(200, record('401', { dealstage: 'closedwon' }));
    await client().hubspot.updateDealStage('401', 'closedwon');
    expect(bodies).toEqual([{ properties: { dealstage: 'closedwon' } }, { properties: { dealstage: 'closedwon' } }]);
  });

  it('gives up after maxRetries with a rate-limit error, capping long Retry-After waits', async () => {
    const scope = hs().get('/crm/v3/pipelines/deals/default').times(3).reply(429, RATE_LIMIT, { 'Retry-After': '60' });
    const { hubspot, sleeps } = client();
    const err = await failure(hubspot.pipelineStages('default'));
    expect(scope.isDone()).toBe(true);
    expect(sleeps).toEqual([10_000, 10_000]);
    expect(err.code).toBe('hubspot_rate_limited');
    expect(err.message).toContain('still limited after 2 retries');
    expect(err.message).toContain('Try again in about 10 seconds');
  });

  it('backs off exponentially when there is no Retry-After, and honours maxRetries', async () => {
    hs().get('/crm/v3/pipelines/deals/default').times(4).reply(429, RATE_LIMIT);
    const { hubspot, sleeps } = client({ maxRetries: 3 });
    await failure(hubspot.pipelineStages('default'));
    expect(sleeps).toEqual([1000, 2000, 4000]);
  });

  it('does not retry when the daily limit is used up', async () => {
    hs()
      .get('/crm/v3/pipelines/deals/default')
      .reply(429, { ...RATE_LIMIT, message: 'You have reached your daily limit.', policyName: 'DAILY' });
    const { hubspot, sleeps } = client();
    const err = await failure(hubspot.pipelineStages('default'));
    expect(sleeps).toEqual([]);
    expect(err.code).toBe('hubspot_rate_limited');
    expect(err.message).toContain('daily API limit');
  });

  it('maps 500 to HubSpot being unavailable, without retrying', async () => {
    const scope = hs()
      .get('/crm/v3/pipelines/deals/default')
      .reply(500, hubspotError('INTERNAL_ERROR', 'internal error'));
    const { hubspot, sleeps } = client();
    const err = await failure(hubspot.pipelineStages('default'));
    expect(scope.isDone()).toBe(true);
    expect(sleeps).toEqual([]);
    expect(err.code).toBe('hubspot_unavailable');
    expect(err.message).toContain('HTTP 500');
  });

  it('times out a read that hangs: a plain failure, nothing was changed', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const { hubspot } = client({ fetch: hanging, timeoutMs: 30 });
    const err = await failure(hubspot.pipelineStages('default'));
    expect(err.code).toBe('hubspot_timeout');
    expect(err.message).toBe('HubSpot did not answer within 30 ms.');
    // A search is a POST, but still only a read.
    const search = await failure(hubspot.search('acme'));
    expect(search.code).toBe('hubspot_timeout');
  });

  it('times out a stage change that hangs: outcome unknown, not "not changed"', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    const err = await unknown(client({ fetch: hanging, timeoutMs: 30 }).hubspot.updateDealStage('401', 'closedwon'));
    expect(err.reason).toBe('HubSpot did not answer within 30 ms');
  });

  it('computes retry delays from Retry-After seconds, capped at 10 s', () => {
    expect(retryDelayMs('3', 0)).toBe(3000);
    expect(retryDelayMs('0.5', 0)).toBe(500);
    expect(retryDelayMs('3600', 0)).toBe(10_000);
    expect(retryDelayMs(null, 1)).toBe(2000);
    expect(retryDelayMs('soon', 0)).toBe(1000);
  });
});

describe('HubSpot connector against a real loopback server that misbehaves after the request left', () => {
  // Long enough for a loopback request to arrive on a busy machine; only the "hang" test waits it out.
  async function api(mode: Parameters<typeof startFaultyHttpServer>[0], timeoutMs = 10_000) {
    const server = await startFaultyHttpServer(mode);
    servers.push(server);
    return { server, hubspot: client({ apiUrl: server.url, timeoutMs }).hubspot };
  }

  it('a stage change with no answer within the timeout: outcome unknown, sent once', async () => {
    const { server, hubspot } = await api('hang', 2_000);
    const err = await unknown(hubspot.updateDealStage('401', 'closedwon'));
    expect(err.reason).toBe('HubSpot did not answer within 2 s');
    expect(server.requests).toEqual([{ method: 'PATCH', path: '/crm/v3/objects/deals/401', body: JSON.stringify({ properties: { dealstage: 'closedwon' } }) }]);
  });

  it('a stage change whose connection closes without a response: outcome unknown, sent once', async () => {
    const { server, hubspot } = await api('drop');
    const err = await unknown(hubspot.updateDealStage('401', 'closedwon'));
    expect(err.reason).toMatch(/^the connection to HubSpot was lost before its answer arrived \(/);
    expect(server.requests).toHaveLength(1);
  });

  it.each([500, 502, 504, 524])('a stage change answered %i: outcome unknown, not retried', async (status) => {
    const { server, hubspot } = await api({ status, body: { status: 'error', message: 'internal error', category: 'INTERNAL_ERROR' } });
    const err = await unknown(hubspot.updateDealStage('401', 'closedwon'));
    expect(err.reason).toBe(`HubSpot answered HTTP ${status}, which does not say whether the change was saved`);
    expect(server.requests).toHaveLength(1);
  });

  it('a stage change answered 200 with a body that is not HubSpot\'s: outcome unknown', async () => {
    const { hubspot } = await api({ status: 200, body: '<html>Welcome</html>' });
    const err = await unknown(hubspot.updateDealStage('401', 'closedwon'));
    expect(err.reason).toBe('HubSpot answered HTTP 200 with a response that does not confirm the change');
  });

  it('a stage change answered 503 (refused before processing): a plain failure', async () => {
    const { hubspot } = await api({ status: 503, body: '<html>Service Unavailable</html>' });
    const err = await failure(hubspot.updateDealStage('401', 'closedwon'));
    expect(err.code).toBe('hubspot_unavailable');
  });

  it('a read whose connection closes without a response: a plain failure', async () => {
    const { hubspot } = await api('drop');
    const err = await failure(hubspot.pipelineStages('default'));
    expect(err.code).toBe('hubspot_unavailable');
    expect(err.message).toMatch(/^Could not reach HubSpot/);
  });

  it('a stage change when the connection is refused: a plain failure, nothing was changed', async () => {
    const port = await closedPort();
    const err = await failure(client({ apiUrl: `http://127.0.0.1:${port}`, timeoutMs: 10_000 }).hubspot.updateDealStage('401', 'closedwon'));
    expect(err.code).toBe('hubspot_unavailable');
    expect(err.message).toBe('Could not reach HubSpot (ECONNREFUSED).');
  });
});
