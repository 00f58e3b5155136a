import { z } from 'zod';
import { OutcomeUnknownError, ToolError } from '../errors.js';
import { ambiguousServerError, failedBeforeSending, formatWait, networkErrorText } from './httpOutcome.js';

/** HubSpot API base used when HUBSPOT_API_URL is not set. */
export const HUBSPOT_DEFAULT_API_URL = 'https://api.hubapi.com';

/** The private-app scopes the CRM tools need; docs/connectors.md and the 403 message list the same four. */
export const HUBSPOT_REQUIRED_SCOPES = [
  'crm.objects.contacts.read',
  'crm.objects.companies.read',
  'crm.objects.deals.read',
  'crm.objects.deals.write',
] as const;

/**
 * Stable codes of the ToolErrors this connector throws. A change whose result cannot be known throws
 * OutcomeUnknownError with the code `hubspot_outcome_unknown`.
 */
export type HubSpotErrorCode =
  | 'hubspot_auth_failed'
  | 'hubspot_missing_scope'
  | 'hubspot_not_found'
  | 'hubspot_validation_error'
  | 'hubspot_rate_limited'
  | 'hubspot_unavailable'
  | 'hubspot_timeout'
  | 'hubspot_failed';

export interface HubSpotClientOptions {
  /** Private app access token (`pat-...`). */
  token: string;
  apiUrl: string;
  timeoutMs?: number;
  /** Retries after a 429 before giving up; default 2. */
  maxRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

export interface HubSpotStage {
  id: string;
  label: string;
  displayOrder: number;
}

export interface HubSpotPipeline {
  id: string;
  label: string;
  /** Active stages in board order. */
  stages: HubSpotStage[];
}

export interface HubSpotContact {
  id: string;
  name: string | null;
  email: string | null;
  company: string | null;
}

export interface HubSpotCompany {
  id: string;
  name: string | null;
  domain: string | null;
}

export interface HubSpotDealSummary {
  id: string;
  name: string | null;
  pipelineId: string | null;
  stageId: string | null;
  /** Null when the pipeline could not be read; the id is still there. */
  stageLabel: string | null;
  amount: string | null;
  closeDate: string | null;
}

export interface HubSpotSearchSection<T> {
  /** How many records match in HubSpot (only the first few are returned). */
  total: number;
  items: T[];
}

export interface HubSpotSearchResults {
  contacts: HubSpotSearchSection<HubSpotContact> | null;
  companies: HubSpotSearchSection<HubSpotCompany> | null;
  deals: HubSpotSearchSection<HubSpotDealSummary> | null;
  /** Object types that could not be searched (e.g. a missing scope), with why. */
  failed: Array<{ objectType: 'contacts' | 'companies' | 'deals'; message: string }>;
}

export interface HubSpotDeal extends HubSpotDealSummary {
  pipelineId: string;
  stageId: string;
  pipelineLabel: string | null;
  /** The pipeline's active stages: what the deal can be moved to. */
  stages: HubSpotStage[];
  contacts: HubSpotContact[];
  /** Associated contacts in HubSpot; `contacts` holds at most the first MAX_DEAL_CONTACTS. */
  contactsTotal: number;
}

export interface HubSpotClient {
  search(query: string): Promise<HubSpotSearchResults>;
  /** `contacts: false` skips reading associated contacts (one request fewer when only the stage matters). */
  getDeal(dealId: string, options?: { contacts?: boolean }): Promise<HubSpotDeal>;
  pipeline(pipelineId: string): Promise<HubSpotPipeline>;
  pipelineStages(pipelineId: string): Promise<HubSpotStage[]>;
  updateDealStage(dealId: string, stageId: string): Promise<{ id: string; stageId: string | null }>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RETRIES = 2;
/** Longer waits than this would hold the run (and the thread's "working" state) for too long. */
const MAX_RETRY_WAIT_MS = 10_000;
const SEARCH_LIMIT = 5;
export const MAX_DEAL_CONTACTS = 20;

const CONTACT_PROPERTIES = ['firstname', 'lastname', 'email', 'company'];
const COMPANY_PROPERTIES = ['name', 'domain'];
const DEAL_PROPERTIES = ['dealname', 'dealstage', 'amount', 'pipeline', 'closedate'];

const properties = z.record(z.string(), z.string().nullable().optional());
const crmObject = z.object({ id: z.string(), properties: properties.default({}) });
const searchResponse = z.object({ total: z.number().optional(), results: z.array(crmObject) });
const dealResponse = crmObject.extend({
  associations: z
    .object({
      contacts: z.object({ results: z.array(z.object({ id: z.string() })) }).optional(),
    })
    .optional(),
});
const batchResponse = z.object({ results: z.array(crmObject) });
const pipelineResponse = z.object({
  id: z.string(),
  label: z.string(),
  stages: z.array(
    z.object({ id: z.string(), label: z.string(), displayOrder: z.number().default(0), archived: z.boolean().optional() }),
  ),
});
const errorBody = z
  .object({
    message: z.string().optional(),
    category: z.string().optional(),
    correlationId: z.string().optional(),
    policyName: z.string().optional(),
    errors: z
      .array(
        z
          .object({
            context: z
              .object({
                requiredGranularScopes: z.array(z.string()).optional(),
                requiredScopes: z.array(z.string()).optional(),
              })
              .loose()
              .optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();
type ErrorBody = z.infer<typeof errorBody>;

interface RequestSpec<T> {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  body?: unknown;
  schema: z.ZodType<T>;
  /** The scope this call needs, named in the 403 message when HubSpot does not say. */
  scope: (typeof HUBSPOT_REQUIRED_SCOPES)[number];
  /** What a 404 means for this call, in words. */
  notFound: string;
  /**
   * The call changes CRM data. Only then can a lost answer leave the outcome unknown; reads (searches
   * are POSTs too) simply failed.
   */
  write?: true;
}

/** HubSpot CRM v3 connector over fetch, with bounded 429 retries and errors the model can act on. */
export function createHubSpotClient(opts: HubSpotClientOptions): HubSpotClient {
  const base = opts.apiUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRetries = Math.max(0, opts.maxRetries ?? DEFAULT_MAX_RETRIES);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Resolved per call rather than captured: test HTTP fakes patch the global after modules load.
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function request<T>(spec: RequestSpec<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const { status, headers, json } = await send(spec);
      if (status >= 200 && status < 300) {
        const parsed = spec.schema.safeParse(json);
        if (!parsed.success && spec.write) {
          // A 2xx says the change was taken, an answer we cannot read does not confirm it: not "not changed".
          throw new OutcomeUnknownError('hubspot_outcome_unknown', `HubSpot answered HTTP ${status} with a response that does not confirm the change`);
        }
        if (!parsed.success) {
          throw new ToolError('hubspot_failed', `HubSpot answered ${spec.method} ${spec.path} with an unexpected response.`);
        }
        return parsed.data;
      }
      // The change may have been saved before the server or a gateway failed: asking again would be
      // harmless for a stage move, but saying "not changed" would not be true.
      if (spec.write && ambiguousServerError(status)) {
        throw new OutcomeUnknownError('hubspot_outcome_unknown', `HubSpot answered HTTP ${status}, which does not say whether the change was saved`);
      }
      const body = errorBody.safeParse(json);
      const err = body.success ? body.data : {};
      // A 429 means the request was not processed, so retrying is safe even for PATCH. A daily limit will
      // not reset within seconds: waiting for it would only delay the same answer.
      if (status === 429 && attempt < maxRetries && err.policyName !== 'DAILY') {
        await sleep(retryDelayMs(headers.get('retry-after'), attempt));
        continue;
      }
      throw mapHubSpotError(status, err, spec, attempt, headers.get('retry-after'));
    }
  }

  async function send(spec: RequestSpec<unknown>): Promise<{ status: number; headers: Headers; json: unknown }> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      let res: Response;
      try {
        res = await doFetch(`${base}${spec.path}`, {
          method: spec.method,
          headers: {
            authorization: `Bearer ${opts.token}`,
            accept: 'application/json',
            ...(spec.body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
          signal: controller.signal,
        });
      } catch (err) {
        // Only a failure to connect proves a change never reached HubSpot; after a timeout or a dropped
        // connection it may have been saved.
        if (spec.write && (controller.signal.aborted || !failedBeforeSending(err))) throw unknownOutcome(err, controller.signal.aborted);
        if (controller.signal.aborted) throw new ToolError('hubspot_timeout', `HubSpot did not answer within ${formatWait(timeoutMs)}.`);
        throw new ToolError('hubspot_unavailable', redact(`Could not reach HubSpot (${clip(networkErrorText(err), 200)}).`, opts.token));
      }
      let text = '';
      try {
        text = await res.text();
      } catch (err) {
        // The status is in, the body is not: a 2xx write was saved but cannot be confirmed; a read failed.
        if (spec.write && res.status >= 200 && res.status < 300) throw unknownOutcome(err, controller.signal.aborted);
        if (res.status >= 200 && res.status < 300) throw new ToolError('hubspot_unavailable', `HubSpot's answer to ${spec.method} ${spec.path.split('?')[0]} was cut off.`);
      }
      return { status: res.status, headers: res.headers, json: parseJson(text) };
    } finally {
      clearTimeout(timer);
    }
  }

  function unknownOutcome(err: unknown, timedOut: boolean): OutcomeUnknownError {
    const reason = timedOut
      ? `HubSpot did not answer within ${formatWait(timeoutMs)}`
      : `the connection to HubSpot was lost before its answer arrived (${clip(networkErrorText(err), 200)})`;
    return new OutcomeUnknownError('hubspot_outcome_unknown', redact(reason, opts.token));
  }

  async function searchObjects<T>(
    objectType: 'contacts' | 'companies' | 'deals',
    query: string,
    props: string[],
    toItem: (o: z.infer<typeof crmObject>) => T,
  ): Promise<HubSpotSearchSection<T>> {
    const res = await request({
      method: 'POST',
      path: `/crm/v3/objects/${objectType}/search`,
      // HubSpot's v3 spec (PublicObjectSearchRequest) lists filterGroups, sorts, after, limit and properties as
      // required; free-text `query` is optional. No filters and no sorts keep HubSpot's relevance order.
      body: { query, filterGroups: [], sorts: [], after: '0', limit: SEARCH_LIMIT, properties: props },
      schema: searchResponse,
      scope: `crm.objects.${objectType}.read`,
      notFound: `HubSpot answered 404 to the ${objectType} search: check HUBSPOT_API_URL`,
    });
    return { total: res.total ?? res.results.length, items: res.results.map(toItem) };
  }

  async function pipeline(pipelineId: string): Promise<HubSpotPipeline> {
    const res = await request({
      method: 'GET',
      path: `/crm/v3/pipelines/deals/${encodeURIComponent(pipelineId)}`,
      schema: pipelineResponse,
      scope: 'crm.objects.deals.read',
      notFound: `HubSpot has no deal pipeline with id ${pipelineId}`,
    });
    const stages = res.stages
      .filter((s) => s.archived !== true)
      .map(({ id, label, displayOrder }) => ({ id, label, displayOrder }))
      .sort((a, b) => a.displayOrder - b.displayOrder);
    return { id: res.id, label: res.label, stages };
  }

  async function readContacts(ids: string[]): Promise<HubSpotContact[]> {
    if (ids.length === 0) return [];
    const res = await request({
      method: 'POST',
      path: '/crm/v3/objects/contacts/batch/read',
      // propertiesWithHistory is a required field of this endpoint's schema even when no history is wanted.
      body: { inputs: ids.map((id) => ({ id })), properties: CONTACT_PROPERTIES, propertiesWithHistory: [] },
      schema: batchResponse,
      scope: 'crm.objects.contacts.read',
      notFound: 'None of the deal\'s associated contacts exist any more',
    });
    // Batch results come back in no particular order; keep the association order.
    const byId = new Map(res.results.map((o) => [o.id, toContact(o)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  return {
    async search(query) {
      const settled = await Promise.allSettled([
        searchObjects('contacts', query, CONTACT_PROPERTIES, toContact),
        searchObjects('companies', query, COMPANY_PROPERTIES, toCompany),
        searchObjects('deals', query, DEAL_PROPERTIES, toDealSummary),
      ]);
      const [contacts, companies, deals] = settled;
      const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      // One missing scope should not hide the other two kinds of record; everything failing is an error.
      if (rejected.length === settled.length) throw rejected[0]!.reason;
      for (const r of rejected) if (!(r.reason instanceof ToolError)) throw r.reason;

      const failed: HubSpotSearchResults['failed'] = [];
      const pick = <T>(objectType: 'contacts' | 'companies' | 'deals', s: PromiseSettledResult<HubSpotSearchSection<T>>) => {
        if (s.status === 'fulfilled') return s.value;
        failed.push({ objectType, message: (s.reason as ToolError).message });
        return null;
      };
      const result: HubSpotSearchResults = {
        contacts: pick('contacts', contacts!),
        companies: pick('companies', companies!),
        deals: pick('deals', deals!),
        failed,
      };
      if (result.deals) await labelStages(result.deals.items);
      return result;
    },

    async getDeal(dealId, options = {}) {
      const query = new URLSearchParams({ properties: DEAL_PROPERTIES.join(','), associations: 'contacts' });
      const deal = await request({
        method: 'GET',
        path: `/crm/v3/objects/deals/${encodeURIComponent(dealId)}?${query.toString()}`,
        schema: dealResponse,
        scope: 'crm.objects.deals.read',
        notFound: `HubSpot has no deal with id ${dealId}. Use crm_search to find the deal's id`,
      });
      const summary = toDealSummary(deal);
      const pipelineId = summary.pipelineId ?? 'default';
      const stageId = summary.stageId ?? '';
      // Deals carry both the plain and the labelled association to the same contact: list each once.
      const contactIds = [...new Set((deal.associations?.contacts?.results ?? []).map((r) => r.id))];
      const [pipe, contacts] = await Promise.all([
        pipeline(pipelineId),
        options.contacts === false ? Promise.resolve([]) : readContacts(contactIds.slice(0, MAX_DEAL_CONTACTS)),
      ]);
      return {
        ...summary,
        pipelineId,
        stageId,
        stageLabel: pipe.stages.find((s) => s.id === stageId)?.label ?? null,
        pipelineLabel: pipe.label,
        stages: pipe.stages,
        contacts,
        contactsTotal: contactIds.length,
      };
    },

    pipeline,

    async pipelineStages(pipelineId) {
      return (await pipeline(pipelineId)).stages;
    },

    async updateDealStage(dealId, stageId) {
      const res = await request({
        method: 'PATCH',
        path: `/crm/v3/objects/deals/${encodeURIComponent(dealId)}`,
        body: { properties: { dealstage: stageId } },
        schema: crmObject,
        scope: 'crm.objects.deals.write',
        notFound: `HubSpot has no deal with id ${dealId}`,
        write: true,
      });
      return { id: res.id, stageId: res.properties.dealstage ?? null };
    },
  };

  /** Stage labels for search results, best effort: a failed pipeline read leaves the stage ids. */
  async function labelStages(deals: HubSpotDealSummary[]): Promise<void> {
    const pipelineIds = [...new Set(deals.flatMap((d) => (d.pipelineId ? [d.pipelineId] : [])))];
    const pipelines = await Promise.all(pipelineIds.map((id) => pipeline(id).catch(() => undefined)));
    for (const deal of deals) {
      const pipe = pipelines.find((p) => p?.id === deal.pipelineId);
      deal.stageLabel = pipe?.stages.find((s) => s.id === deal.stageId)?.label ?? null;
    }
  }
}

function toContact(o: z.infer<typeof crmObject>): HubSpotContact {
  const p = o.properties;
  const name = [p.firstname, p.lastname].filter((v): v is string => Boolean(v?.trim())).join(' ');
  return { id: o.id, name: name || null, email: p.email || null, company: p.company || null };
}

function toCompany(o: z.infer<typeof crmObject>): HubSpotCompany {
  return { id: o.id, name: o.properties.name || null, domain: o.properties.domain || null };
}

function toDealSummary(o: z.infer<typeof crmObject>): HubSpotDealSummary {
  const p = o.properties;
  return {
    id: o.id,
    name: p.dealname || null,
    pipelineId: p.pipeline || null,
    stageId: p.dealstage || null,
    stageLabel: null,
    amount: p.amount || null,
    closeDate: p.closedate || null,
  };
}

/** Seconds from Retry-After, capped; without one, a short exponential backoff (1 s, 2 s, 4 s...). */
export function retryDelayMs(retryAfter: string | null, attempt: number): number {
  const seconds = retryAfter !== null && retryAfter.trim() !== '' ? Number(retryAfter) : Number.NaN;
  const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000 * 2 ** attempt;
  return Math.min(ms, MAX_RETRY_WAIT_MS);
}

function mapHubSpotError(
  status: number,
  err: ErrorBody,
  spec: RequestSpec<unknown>,
  retries: number,
  retryAfter: string | null,
): ToolError {
  const said = err.message ? ` HubSpot said: ${clip(err.message, 500)}` : '';
  const ref = err.correlationId ? ` (correlation id ${err.correlationId})` : '';
  if (status === 401) {
    return new ToolError(
      'hubspot_auth_failed',
      `HubSpot rejected the access token (invalid, expired or revoked). Tell the requester that an operator must replace HUBSPOT_TOKEN; retrying will not help.${ref}`,
    );
  }
  if (status === 403) {
    const named = err.errors?.flatMap((e) => e.context?.requiredGranularScopes ?? e.context?.requiredScopes ?? []) ?? [];
    const missing = named.length > 0 ? [...new Set(named)] : [spec.scope];
    return new ToolError(
      'hubspot_missing_scope',
      `HubSpot refused the request: the private app is missing the scope ${missing.join(', ')}. Tell the requester that an operator must ` +
        `grant it (the CRM tools need ${HUBSPOT_REQUIRED_SCOPES.join(', ')}).${ref}`,
    );
  }
  if (status === 404) return new ToolError('hubspot_not_found', `${spec.notFound}.${ref}`);
  if (status === 429) {
    if (err.policyName === 'DAILY') {
      return new ToolError('hubspot_rate_limited', `HubSpot's daily API limit for this account is used up; it resets at midnight in the account's time zone.${ref}`);
    }
    const wait = Math.ceil(retryDelayMs(retryAfter, retries) / 1000);
    const tried = retries > 0 ? ` and was still limited after ${retries} ${retries === 1 ? 'retry' : 'retries'}` : '';
    return new ToolError('hubspot_rate_limited', `HubSpot is rate limiting this app${tried}. Try again in about ${wait} seconds.${ref}`);
  }
  if (status >= 500) {
    return new ToolError('hubspot_unavailable', `HubSpot is unavailable right now (HTTP ${status}); try again in a few minutes.${ref}`);
  }
  if (status === 400 || err.category === 'VALIDATION_ERROR') {
    return new ToolError('hubspot_validation_error', `HubSpot rejected the request as invalid (${err.category ?? `HTTP ${status}`}).${said}${ref}`);
  }
  return new ToolError('hubspot_failed', `HubSpot answered HTTP ${status} to ${spec.method} ${spec.path.split('?')[0]}.${said}${ref}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text;
}
