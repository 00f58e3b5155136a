import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { StoredBlock } from '../db/repos/messages.js';
import { addCacheBreakpoints } from './promptCache.js';

export interface ModelRequest {
  model: string;
  maxTokens: number;
  system: string;
  tools: unknown[];
  messages: Array<{ role: 'user' | 'assistant'; content: unknown[] }>;
}

const usageSchema = z.looseObject({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
  cache_read_input_tokens: z.number().int().nonnegative().nullish(),
  cache_creation: z
    .looseObject({
      ephemeral_5m_input_tokens: z.number().int().nonnegative().nullish(),
      ephemeral_1h_input_tokens: z.number().int().nonnegative().nullish(),
    })
    .nullish(),
});

/** The API's answer is a boundary: validate the parts the loop relies on, keep every block verbatim. */
export const modelResponseSchema = z.looseObject({
  id: z.string(),
  content: z.array(z.looseObject({ type: z.string() })),
  stop_reason: z.string().nullable(),
  usage: usageSchema,
});

export interface ModelResponse {
  id: string;
  content: StoredBlock[];
  stopReason: string | null;
  usage: {
    inputTokens: number;
    outputTokens: number;
    cacheReadTokens: number;
    cacheWrite5mTokens: number;
    cacheWrite1hTokens: number;
  };
}

export interface ModelClient {
  create(req: ModelRequest, opts?: { signal?: AbortSignal }): Promise<ModelResponse>;
}

/** A failed model call after retries; `retryable` says whether trying later may help. */
export class ModelCallError extends AppError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  constructor(message: string, status: number | undefined, retryable: boolean) {
    super('model_call_failed', message, { status });
    this.status = status;
    this.retryable = retryable;
  }
}

export function toModelResponse(raw: unknown): ModelResponse {
  const parsed = modelResponseSchema.safeParse(raw);
  if (!parsed.success) throw new ModelCallError(`Claude returned an unexpected response: ${parsed.error.message}`, undefined, true);
  const u = parsed.data.usage;
  // When the breakdown by TTL is missing, the API's cache_creation_input_tokens are 5-minute writes.
  const write1h = u.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  const write5m = u.cache_creation?.ephemeral_5m_input_tokens ?? Math.max(0, (u.cache_creation_input_tokens ?? 0) - write1h);
  return {
    id: parsed.data.id,
    content: parsed.data.content,
    stopReason: parsed.data.stop_reason,
    usage: {
      inputTokens: u.input_tokens,
      outputTokens: u.output_tokens,
      cacheReadTokens: u.cache_read_input_tokens ?? 0,
      cacheWrite5mTokens: write5m,
      cacheWrite1hTokens: write1h,
    },
  };
}

export interface AnthropicClientOptions {
  apiKey: string;
  baseUrl?: string | undefined;
  /** SDK-level retries (connection errors, 408/409/429/5xx). */
  maxRetries?: number;
  /** Per-request timeout; bounded so a hung call cannot hold a run forever. */
  timeoutMs?: number;
  /** The SDK honours Retry-After without limit; we cap it so a 429/529 cannot park a run for long. */
  maxRetryAfterMs?: number;
  /** `cache_control` breakpoints on the request (default on); off only to measure what caching saves. */
  promptCaching?: boolean;
}

/**
 * Wraps fetch so that Retry-After / retry-after-ms headers above the cap are lowered to it before the
 * SDK's retry logic reads them.
 */
export function cappedRetryAfterFetch(maxMs: number, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    const ra = res.headers.get('retry-after');
    const raMs = res.headers.get('retry-after-ms');
    const tooLong = (ra !== null && !(Number(ra) * 1000 <= maxMs)) || (raMs !== null && !(Number(raMs) <= maxMs));
    if (!tooLong) return res;
    const headers = new Headers(res.headers);
    headers.set('retry-after', String(Math.max(0, Math.floor(maxMs / 1000))));
    headers.set('retry-after-ms', String(maxMs));
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

function describeFailure(err: unknown): ModelCallError {
  if (err instanceof Anthropic.APIError) {
    const status = err.status;
    const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    const what =
      status === 429
        ? 'Claude is rate-limiting this app (429)'
        : status === 529
          ? 'Claude is overloaded (529)'
          : status !== undefined && status >= 500
            ? `Claude had a server error (${status})`
            : status === 401 || status === 403
              ? `Claude rejected the API key (${status})`
              : status === undefined
                ? 'Could not reach Claude'
                : `Claude rejected the request (${status})`;
    return new ModelCallError(`${what}: ${err.message}`, status, retryable);
  }
  return new ModelCallError(`Could not reach Claude: ${String(err)}`, undefined, true);
}

/** A hand-written loop needs only `messages.create`; the full history lives in SQLite, not in the SDK. */
export function createAnthropicModelClient(opts: AnthropicClientOptions): ModelClient {
  const client = new Anthropic({
    apiKey: opts.apiKey,
    ...(opts.baseUrl ? { baseURL: opts.baseUrl } : {}),
    maxRetries: opts.maxRetries ?? 2,
    timeout: opts.timeoutMs ?? 120_000,
    fetch: cappedRetryAfterFetch(opts.maxRetryAfterMs ?? 10_000),
  });
  return {
    async create(req, callOpts) {
      // Breakpoints go on a copy of the request; the stored conversation stays byte for byte as it was.
      const parts = opts.promptCaching === false ? req : addCacheBreakpoints(req);
      try {
        const raw = await client.messages.create(
          {
            model: req.model,
            max_tokens: req.maxTokens,
            system: parts.system as never,
            tools: parts.tools as never,
            messages: parts.messages as never,
          },
          callOpts?.signal ? { signal: callOpts.signal } : undefined,
        );
        return toModelResponse(raw);
      } catch (err) {
        if (err instanceof ModelCallError) throw err;
        throw describeFailure(err);
      }
    },
  };
}
