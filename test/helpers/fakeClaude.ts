/**
 * A loopback fake of the Claude Messages API (`POST /v1/messages`), for driving the app through
 * `ANTHROPIC_BASE_URL` with @anthropic-ai/sdk 1.x (which appends `/v1/messages` to the base URL).
 *
 * Replies are scripted by the test (`enqueue` or `respond`). Every request is validated the way the real
 * API validates it, and a violation is answered with the real 400 `invalid_request_error` envelope: the
 * point of this fake is to catch conversation-bookkeeping bugs (missing tool results, edited thinking
 * blocks, a system prompt that drifted mid-run) before production does.
 *
 * Prompt caching follows the API's rules (fakeClaudeCache.ts): usage reports cache reads only for a prefix
 * seen within its TTL, writes for new prefixes, nothing below the model's minimum; more than 4 breakpoints
 * is a 400. A reply that scripts its own prompt usage gets exactly that instead.
 *
 * Thinking signatures are HMACs over the thinking text, the request's `system` + `tools` and the messages
 * before the block, with a key fixed in this module. Verification is stateless, so a restarted fake (or a
 * second one) still accepts blocks a run persisted before a simulated process restart.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { canonical, isObject, normalizeContent, type Json } from './fakeClaudeCanonical.js';
import { PromptCache, CacheRequestError, type CacheCharge, type CachePlan } from './fakeClaudeCache.js';

export type FakeStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

export type FakeUsageInput = Partial<Omit<FakeUsage, 'cache_creation'>> & {
  cache_creation?: Partial<FakeUsage['cache_creation']>;
};

/** Content as scripted; `signature` is filled in when the fake answers, unless given. */
export type FakeContentBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: string; [key: string]: unknown };

export interface FakeMessageReply {
  kind: 'message';
  content: FakeContentBlock[];
  stopReason: FakeStopReason;
  usage?: FakeUsageInput;
}

export interface FakeErrorReply {
  httpStatus: number;
  errorType: string;
  message?: string;
  /** Seconds, sent as the `retry-after` header. */
  retryAfter?: number;
}

export type FakeReply = FakeMessageReply | FakeErrorReply;

export interface FakeClaudeRequest {
  // The request body as JSON: `any` so tests can reach into messages without ceremony.
  body: any;
  headers: Record<string, string>;
  at: number;
  /** HTTP status the fake answered (set once answered). */
  status?: number;
  /** Why the fake refused it: a validation failure, a throwing handler, or no scripted reply. */
  rejected?: string;
}

export interface FakeClaudeContext {
  /** 0-based index among requests that passed validation. */
  callIndex: number;
}

export type FakeClaudeHandler = (body: any, ctx: FakeClaudeContext) => FakeReply | Promise<FakeReply>;

export interface FakeClaude {
  /** Base URL (no trailing slash): pass as `baseURL` / `ANTHROPIC_BASE_URL`. */
  url: string;
  requests: FakeClaudeRequest[];
  /** Scripted behaviour; takes precedence over the queue. `null` goes back to the queue. */
  respond(handler: FakeClaudeHandler | null): void;
  /** FIFO replies, used when no handler is set. */
  enqueue(...replies: FakeReply[]): void;
  /** Replies still queued. */
  pending(): number;
  /** Resolves with the first n answered requests once there are n. */
  waitForRequests(n: number, timeoutMs?: number): Promise<FakeClaudeRequest[]>;
  setLatency(ms: number): void;
  /** The prompt cache (see fakeClaudeCache.ts): prefixes alive now, and a way to empty it. */
  cache: { size(): number; clear(): void };
  /** Moves the cache's clock forward (a TTL runs out without waiting for it). */
  advanceClock(ms: number): void;
  close(): Promise<void>;
}

export interface FakeClaudeOptions {
  latencyMs?: number;
  /** The cache's clock (ms); Date.now by default. */
  now?: () => number;
  /** Minimum cacheable prefix per model, overriding the API's. */
  cacheMinimums?: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------------
// Reply builders
// ---------------------------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomId(prefix: string): string {
  let out = prefix;
  for (const b of randomBytes(22)) out += BASE62[b % 62];
  return out;
}

export interface ReplyOptions {
  text?: string;
  /** Adds a leading thinking block with this text ('' is valid: thinking can be omitted from display). */
  thinking?: string;
  stopReason?: FakeStopReason;
  usage?: FakeUsageInput;
}

export function textReply(text: string, opts: Omit<ReplyOptions, 'text'> = {}): FakeMessageReply {
  return {
    kind: 'message',
    content: [...thinkingBlock(opts.thinking), { type: 'text', text }],
    stopReason: opts.stopReason ?? 'end_turn',
    ...(opts.usage ? { usage: opts.usage } : {}),
  };
}

export function toolUseReply(
  calls: Array<{ name: string; input: unknown; id?: string }>,
  opts: ReplyOptions = {},
): FakeMessageReply {
  return {
    kind: 'message',
    content: [
      ...thinkingBlock(opts.thinking),
      ...(opts.text !== undefined ? [{ type: 'text' as const, text: opts.text }] : []),
      ...calls.map((c) => ({ type: 'tool_use' as const, id: c.id ?? randomId('toolu_01'), name: c.name, input: c.input })),
    ],
    stopReason: opts.stopReason ?? 'tool_use',
    ...(opts.usage ? { usage: opts.usage } : {}),
  };
}

/** Any content and stop reason: pause_turn, refusal, max_tokens, model_context_window_exceeded... */
export function rawReply(spec: {
  content: FakeContentBlock[];
  stopReason: FakeStopReason;
  usage?: FakeUsageInput;
}): FakeMessageReply {
  return { kind: 'message', content: spec.content, stopReason: spec.stopReason, ...(spec.usage ? { usage: spec.usage } : {}) };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'api_error',
  529: 'overloaded_error',
};

/** An error reply with the error type the real API uses for that status. */
export function errorReply(
  httpStatus: number,
  opts: { message?: string; retryAfter?: number; errorType?: string } = {},
): FakeErrorReply {
  return {
    httpStatus,
    errorType: opts.errorType ?? ERROR_TYPES[httpStatus] ?? 'api_error',
    ...(opts.message !== undefined ? { message: opts.message } : {}),
    ...(opts.retryAfter !== undefined ? { retryAfter: opts.retryAfter } : {}),
  };
}

function thinkingBlock(thinking: string | undefined): FakeContentBlock[] {
  return thinking === undefined ? [] : [{ type: 'thinking', thinking }];
}

// ---------------------------------------------------------------------------------------------------
// Canonical hashing and thinking signatures
// ---------------------------------------------------------------------------------------------------

function hash16(v: unknown): Buffer {
  return createHash('sha256').update(canonical(v)).digest().subarray(0, 16);
}

function contextHash(body: Json): Buffer {
  return hash16({ system: normalizeContent(body.system ?? []), tools: body.tools ?? [] });
}

function prefixHash(messages: unknown[]): Buffer {
  return hash16(messages.map((m) => (isObject(m) ? { ...m, content: normalizeContent(m.content) } : m)));
}

const SIGNING_KEY = 'fake-claude-thinking-signature-key';
const SIG_PREFIX = Buffer.from('FKSG');

function mac(parts: Buffer[], thinking: string): Buffer {
  const h = createHmac('sha256', SIGNING_KEY);
  for (const p of parts) h.update(p);
  return h.update(thinking, 'utf8').digest();
}

function sign(thinking: string, ctx: Buffer, prefix: Buffer): string {
  const nonce = randomBytes(12);
  return Buffer.concat([SIG_PREFIX, nonce, ctx, prefix, mac([nonce, ctx, prefix], thinking)]).toString('base64');
}

type SignatureCheck = 'ok' | 'invalid' | 'context_changed' | 'history_changed';

function verify(signature: string, thinking: string, ctx: Buffer, prefix: Buffer): SignatureCheck {
  const raw = Buffer.from(signature, 'base64');
  if (raw.length !== 4 + 12 + 16 + 16 + 32 || !raw.subarray(0, 4).equals(SIG_PREFIX)) return 'invalid';
  const nonce = raw.subarray(4, 16);
  const signedCtx = raw.subarray(16, 32);
  const signedPrefix = raw.subarray(32, 48);
  if (!timingSafeEqual(raw.subarray(48), mac([nonce, signedCtx, signedPrefix], thinking))) return 'invalid';
  if (!signedCtx.equals(ctx)) return 'context_changed';
  if (!signedPrefix.equals(prefix)) return 'history_changed';
  return 'ok';
}

// ---------------------------------------------------------------------------------------------------
// Request validation
// ---------------------------------------------------------------------------------------------------

class ApiReject extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

function bad(message: string): never {
  throw new ApiReject(400, 'invalid_request_error', message);
}

const TOP_LEVEL_KEYS = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'tools',
  'tool_choice',
  'metadata',
  'stop_sequences',
  'stream',
  'thinking',
  'service_tier',
  'container',
  'cache_control',
  'diagnostics',
  'inference_geo',
  'output_config',
  'speed',
  'user_profile_id',
  'workspace_id',
  'mcp_servers',
  'context_management',
]);
const REMOVED_SAMPLING_KEYS = ['temperature', 'top_p', 'top_k'];
const NO_FORCED_TOOL_CHOICE = new Set(['claude-opus-5-5', 'claude-sonnet-5-5']);
const MAX_OUTPUT_TOKENS = 128_000;

/** Keys each echoed block may carry; anything else is "Extra inputs are not permitted" upstream. */
const BLOCK_KEYS: Record<string, Set<string>> = {
  text: new Set(['type', 'text', 'citations', 'cache_control']),
  thinking: new Set(['type', 'thinking', 'signature']),
  redacted_thinking: new Set(['type', 'data']),
  tool_use: new Set(['type', 'id', 'name', 'input', 'cache_control', 'caller', 'toolset_name']),
  tool_result: new Set(['type', 'tool_use_id', 'content', 'is_error', 'cache_control', 'toolset_name']),
};
const USER_BLOCKS = new Set(['text', 'image', 'document', 'search_result', 'tool_result']);
const ASSISTANT_ONLY = new Set(['thinking', 'redacted_thinking', 'tool_use']);
const TOOL_KEYS = new Set([
  'type',
  'name',
  'description',
  'input_schema',
  'cache_control',
  'strict',
  'input_examples',
  'allowed_callers',
  'defer_loading',
  'eager_input_streaming',
]);

function validateHeaders(headers: Record<string, string>): void {
  if (!headers['anthropic-version']) bad('anthropic-version: header is required');
  const auth = headers.authorization;
  const token = auth?.match(/^Bearer\s+(\S+)$/)?.[1];
  if (!auth) throw new ApiReject(401, 'authentication_error', 'authorization: header is required (Bearer <key>)');
  if (!token) throw new ApiReject(401, 'authentication_error', 'authorization: expected `Bearer <non-empty key>`');
  if (!(headers['content-type'] ?? '').startsWith('application/json')) {
    bad('content-type: expected application/json');
  }
}

function validateTools(body: Json): Set<string> {
  const names = new Set<string>();
  if (body.tools === undefined) return names;
  if (!Array.isArray(body.tools)) bad('tools: Input should be a valid list');
  body.tools.forEach((tool: unknown, i) => {
    if (!isObject(tool)) bad(`tools.${i}: Input should be an object`);
    const custom = tool.type === undefined || tool.type === null || tool.type === 'custom';
    if (!custom) {
      // Server tools (web search, code execution...) have their own shapes; the app does not use them.
      if (typeof tool.name === 'string') names.add(tool.name);
      return;
    }
    for (const k of Object.keys(tool)) {
      if (!TOOL_KEYS.has(k)) bad(`tools.${i}.custom.${k}: Extra inputs are not permitted`);
    }
    if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(tool.name)) {
      bad(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
    }
    if (names.has(tool.name)) bad(`tools: Tool names must be unique. Duplicate: ${tool.name}`);
    names.add(tool.name);
    if (!isObject(tool.input_schema)) bad(`tools.${i}.custom.input_schema: Field required`);
    if (tool.input_schema.type !== 'object') bad(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
    if (tool.description !== undefined && typeof tool.description !== 'string') {
      bad(`tools.${i}.custom.description: Input should be a valid string`);
    }
  });
  return names;
}

function validateToolChoice(body: Json, toolNames: Set<string>): void {
  const choice = body.tool_choice;
  if (choice === undefined) return;
  if (!isObject(choice) || !['auto', 'any', 'tool', 'none'].includes(String(choice.type))) {
    bad("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
  }
  if (!Array.isArray(body.tools) || body.tools.length === 0) {
    bad('tool_choice: tool_choice may only be specified while providing tools');
  }
  const model = String(body.model);
  if ((choice.type === 'any' || choice.type === 'tool') && NO_FORCED_TOOL_CHOICE.has(model)) {
    bad(`tool_choice: \`${String(choice.type)}\` is not supported with ${model}; use \`auto\``);
  }
  if (choice.type === 'tool' && (typeof choice.name !== 'string' || !toolNames.has(choice.name))) {
    bad(`tool_choice.name: no tool named ${JSON.stringify(choice.name)} in \`tools\``);
  }
}

function validateSystem(system: unknown): void {
  if (system === undefined || typeof system === 'string') return;
  if (!Array.isArray(system)) bad('system: Input should be a valid string or list of text blocks');
  system.forEach((b: unknown, i) => {
    if (!isObject(b) || b.type !== 'text' || typeof b.text !== 'string') {
      bad(`system.${i}: Input should be a text block`);
    }
  });
}

/**
 * Message structure, tool_use/tool_result pairing and thinking replay. `issuedPauseTurns` holds the
 * canonical content of every pause_turn reply this fake gave (a final assistant turn must continue one).
 */
function validateMessages(body: Json, toolNames: Set<string>, issuedPauseTurns: string[][]): void {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) bad('messages: at least one message is required');
  const ctx = contextHash(body);
  const seenToolUseIds = new Set<string>();
  let pendingToolUses: string[] = []; // tool_use ids of the previous assistant turn

  messages.forEach((msg: unknown, i) => {
    if (!isObject(msg)) bad(`messages.${i}: Input should be an object`);
    if (msg.role !== 'user' && msg.role !== 'assistant') bad(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    for (const k of Object.keys(msg)) {
      if (k !== 'role' && k !== 'content') bad(`messages.${i}.${k}: Extra inputs are not permitted`);
    }
    if (i === 0 && msg.role !== 'user') bad('messages.0.role: the first message must use the "user" role');
    const prev = i > 0 ? (messages[i - 1] as Json) : undefined;
    if (prev && prev.role === msg.role) {
      bad(`messages.${i}: roles must alternate between "user" and "assistant"; got two "${msg.role}" messages in a row`);
    }
    const blocks = normalizeContent(msg.content);
    if (!Array.isArray(blocks)) bad(`messages.${i}.content: Input should be a valid string or list of content blocks`);
    const isLast = i === messages.length - 1;
    if (blocks.length === 0) bad(`messages.${i}: all messages must have non-empty content`);

    // A user turn after tool_use must open with a tool_result for each of them, and nothing else first.
    const resultIds: string[] = [];
    let leading = true;
    blocks.forEach((block: unknown, j) => {
      const path = `messages.${i}.content.${j}`;
      if (!isObject(block) || typeof block.type !== 'string') bad(`${path}: Input should be a content block with a type`);
      const allowed = BLOCK_KEYS[block.type];
      if (allowed) {
        for (const k of Object.keys(block)) if (!allowed.has(k)) bad(`${path}.${block.type}.${k}: Extra inputs are not permitted`);
      }
      if (msg.role === 'user' && !USER_BLOCKS.has(block.type)) {
        bad(`${path}: \`${block.type}\` blocks are not allowed in user messages`);
      }
      if (msg.role === 'assistant' && (block.type === 'tool_result' || block.type === 'image' || block.type === 'document')) {
        bad(`${path}: \`${block.type}\` blocks are not allowed in assistant messages`);
      }
      switch (block.type) {
        case 'text':
          if (typeof block.text !== 'string' || block.text.trim() === '') {
            bad(`${path}.text: text content blocks must contain non-whitespace text`);
          }
          break;
        case 'tool_use': {
          if (typeof block.id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(block.id)) {
            bad(`${path}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
          }
          if (seenToolUseIds.has(block.id)) bad(`${path}: \`tool_use\` ids must be unique; duplicate ${block.id}`);
          seenToolUseIds.add(block.id);
          if (typeof block.name !== 'string' || block.name === '') bad(`${path}.tool_use.name: Field required`);
          if (!isObject(block.input)) bad(`${path}.tool_use.input: Input should be a valid dictionary`);
          if (toolNames.size === 0) {
            bad(`${path}: Requests which include \`tool_use\` or \`tool_result\` blocks must define tools.`);
          }
          break;
        }
        case 'tool_result': {
          if (typeof block.tool_use_id !== 'string') bad(`${path}.tool_result.tool_use_id: Field required`);
          if (toolNames.size === 0) {
            bad(`${path}: Requests which include \`tool_use\` or \`tool_result\` blocks must define tools.`);
          }
          if (block.is_error !== undefined && typeof block.is_error !== 'boolean') {
            bad(`${path}.tool_result.is_error: Input should be a valid boolean`);
          }
          const c = block.content;
          if (c !== undefined && typeof c !== 'string' && !Array.isArray(c)) {
            bad(`${path}.tool_result.content: Input should be a valid string or list of content blocks`);
          }
          if (!leading && pendingToolUses.length > 0) {
            bad(`${path}: \`tool_result\` blocks must come first in the message that answers \`tool_use\`, before any other content`);
          }
          resultIds.push(block.tool_use_id);
          break;
        }
        case 'thinking': {
          if (typeof block.thinking !== 'string') bad(`${path}.thinking.thinking: Field required`);
          if (typeof block.signature !== 'string' || block.signature === '') bad(`${path}.thinking.signature: Field required`);
          const check = verify(block.signature, block.thinking, ctx, prefixHash(messages.slice(0, i)));
          if (check === 'invalid') bad(`${path}: Invalid \`signature\` in \`thinking\` block (thinking blocks must be sent back unmodified)`);
          if (check === 'context_changed') {
            bad(`${path}: this \`thinking\` block was produced with a different \`system\` prompt or \`tools\` list; they must not change while its turn is replayed`);
          }
          if (check === 'history_changed') {
            bad(`${path}: an earlier message changed under this replayed \`thinking\` block; the conversation must be append-only`);
          }
          break;
        }
        case 'redacted_thinking':
          if (typeof block.data !== 'string') bad(`${path}.redacted_thinking.data: Field required`);
          break;
        default:
          break;
      }
      if (block.type !== 'tool_result') leading = false;
    });

    if (msg.role === 'user') {
      const expected = new Set(pendingToolUses);
      const missing = pendingToolUses.filter((id) => !resultIds.includes(id));
      const extra = resultIds.filter((id) => !expected.has(id));
      const dupes = resultIds.filter((id, k) => resultIds.indexOf(id) !== k);
      if (extra.length > 0) {
        bad(`messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${extra.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
      }
      if (dupes.length > 0) bad(`messages.${i}.content: more than one \`tool_result\` for tool_use id ${dupes.join(', ')}`);
      if (missing.length > 0) {
        bad(`messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
      }
      pendingToolUses = [];
    } else {
      pendingToolUses = blocks.filter((b: Json) => b.type === 'tool_use').map((b: Json) => String(b.id));
      if (isLast && pendingToolUses.length > 0) {
        bad(`messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${pendingToolUses.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
      }
      if (isLast && !continuesPauseTurn(blocks, issuedPauseTurns)) {
        bad(`messages.${i}: the final message may be an assistant message only to continue a \`pause_turn\` response (send that response's content back unchanged); prefilling is not supported on this model`);
      }
    }
  });
}

/** The final assistant turn must end with the content of a pause_turn reply (possibly after earlier content). */
function continuesPauseTurn(blocks: unknown[], issued: string[][]): boolean {
  const mine = blocks.map(canonical);
  return issued.some((p) => p.length <= mine.length && p.every((b, k) => b === mine[mine.length - p.length + k]));
}

function validateBody(body: unknown, issuedPauseTurns: string[][]): Json {
  if (!isObject(body)) bad('Request body must be a JSON object');
  for (const k of REMOVED_SAMPLING_KEYS) {
    if (k in body) bad(`${k}: \`${k}\` is not supported on this model; remove it from the request (even at its default value)`);
  }
  for (const k of Object.keys(body)) if (!TOP_LEVEL_KEYS.has(k)) bad(`${k}: Extra inputs are not permitted`);
  if (typeof body.model !== 'string' || body.model === '') bad('model: Field required');
  if (!/^claude-[a-z0-9.-]+$/.test(body.model)) throw new ApiReject(404, 'not_found_error', `model: ${body.model}`);
  if (body.max_tokens === undefined) bad('max_tokens: Field required');
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    bad('max_tokens: Input should be a positive integer');
  }
  if (body.max_tokens > MAX_OUTPUT_TOKENS) {
    bad(`max_tokens: ${body.max_tokens} > ${MAX_OUTPUT_TOKENS}, which is the maximum allowed number of output tokens for ${body.model}`);
  }
  if (body.stream === true) bad('stream: this fake does not implement streaming; use a non-streaming messages.create');
  if (body.stop_sequences !== undefined) {
    if (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s) => typeof s !== 'string')) {
      bad('stop_sequences: Input should be a list of strings');
    }
  }
  if (body.thinking !== undefined) {
    const t = body.thinking;
    if (!isObject(t) || !['enabled', 'disabled', 'adaptive', 'between_tools'].includes(String(t.type))) {
      bad("thinking.type: Input should be 'enabled', 'disabled', 'adaptive' or 'between_tools'");
    }
    if (t.type === 'enabled') {
      const budget = t.budget_tokens;
      if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024) {
        bad('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      }
      if (budget >= body.max_tokens) bad('max_tokens: must be greater than thinking.budget_tokens');
    }
  }
  validateSystem(body.system);
  const names = validateTools(body);
  validateToolChoice(body, names);
  validateMessages(body, names, issuedPauseTurns);
  return body;
}

// ---------------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------------

function estimateTokens(v: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(v ?? '').length / 4));
}

function renderMessage(reply: FakeMessageReply, body: Json, charge: CacheCharge): Json {
  const messages = body.messages as Json[];
  // A continuation's thinking sits after the same history as the turn it continues.
  const last = messages[messages.length - 1];
  const history = last?.role === 'assistant' ? messages.slice(0, -1) : messages;
  const ctx = contextHash(body);
  const prefix = prefixHash(history);
  let thinkingChars = 0;

  const content = reply.content.map((block): Json => {
    switch (block.type) {
      case 'text':
        return { type: 'text', text: block.text, citations: null };
      case 'thinking': {
        const thinking = String(block.thinking);
        thinkingChars += thinking.length;
        const signature = typeof block.signature === 'string' && block.signature ? block.signature : sign(thinking, ctx, prefix);
        return { type: 'thinking', thinking, signature };
      }
      case 'tool_use':
        return { type: 'tool_use', id: block.id, name: block.name, input: block.input, caller: { type: 'direct' } };
      default:
        return { ...block };
    }
  });

  const u = reply.usage ?? {};
  const output = u.output_tokens ?? estimateTokens(content);
  // A test that scripts any prompt figure gets exactly what it scripted; otherwise the cache decides.
  const scripted = u.input_tokens !== undefined || u.cache_creation_input_tokens !== undefined || u.cache_read_input_tokens !== undefined || u.cache_creation !== undefined;
  const write5m = scripted ? (u.cache_creation?.ephemeral_5m_input_tokens ?? 0) : charge.cacheWrite5mTokens;
  const write1h = scripted ? (u.cache_creation?.ephemeral_1h_input_tokens ?? 0) : charge.cacheWrite1hTokens;
  const usage = {
    input_tokens: scripted ? (u.input_tokens ?? 0) : charge.inputTokens,
    output_tokens: output,
    cache_creation_input_tokens: scripted ? (u.cache_creation_input_tokens ?? 0) : write5m + write1h,
    cache_read_input_tokens: scripted ? (u.cache_read_input_tokens ?? 0) : charge.cacheReadTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: write5m,
      ephemeral_1h_input_tokens: write1h,
    },
    inference_geo: 'global',
    output_tokens_details: { thinking_tokens: Math.min(output, Math.ceil(thinkingChars / 4)) },
    server_tool_use: null,
    service_tier: 'standard',
    speed: 'standard',
  };

  return {
    id: randomId('msg_01'),
    type: 'message',
    role: 'assistant',
    model: body.model,
    content,
    stop_reason: reply.stopReason,
    stop_sequence: null,
    stop_details: reply.stopReason === 'refusal' ? { type: 'refusal', category: null, explanation: null } : null,
    container: null,
    diagnostics: null,
    usage,
  };
}

function errorEnvelope(errorType: string, message: string, requestId: string): Json {
  return { type: 'error', error: { type: errorType, message }, request_id: requestId };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------

export async function startFakeClaude(opts: FakeClaudeOptions = {}): Promise<FakeClaude> {
  let latencyMs = opts.latencyMs ?? 0;
  let handler: FakeClaudeHandler | null = null;
  const queue: FakeReply[] = [];
  const requests: FakeClaudeRequest[] = [];
  const issuedPauseTurns: string[][] = [];
  const waiters = new Set<() => void>();
  let callIndex = 0;
  let clockOffset = 0;
  const baseNow = opts.now ?? Date.now;
  const cache = new PromptCache({ now: () => baseNow() + clockOffset, ...(opts.cacheMinimums ? { minimums: opts.cacheMinimums } : {}) });

  const send = (res: ServerResponse, record: FakeClaudeRequest, status: number, body: Json, headers: Record<string, string> = {}): void => {
    record.status = status;
    const requestId = randomId('req_01');
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers });
    res.end(JSON.stringify(body.type === 'error' ? { ...body, request_id: requestId } : body));
    for (const w of [...waiters]) w();
  };

  const reject = (res: ServerResponse, record: FakeClaudeRequest, status: number, type: string, message: string): void => {
    record.rejected = message;
    send(res, record, status, errorEnvelope(type, message, ''));
  };

  const nextReply = async (body: Json, index: number): Promise<FakeReply | undefined> => {
    if (handler) return handler(body, { callIndex: index });
    return queue.shift();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const headers = flatHeaders(req);
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // Recorded as text; rejected below.
    }
    const record: FakeClaudeRequest = { body: parsed, headers, at: Date.now() };
    requests.push(record);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));

    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/v1/messages') return reject(res, record, 404, 'not_found_error', `Not Found: ${req.method} ${path}`);
    if (req.method !== 'POST') return reject(res, record, 405, 'invalid_request_error', `Method Not Allowed: ${req.method} ${path}`);
    if (typeof parsed === 'string') {
      return reject(res, record, 400, 'invalid_request_error', 'There was an error parsing the body of your request: invalid JSON');
    }

    let body: Json;
    let plan: CachePlan;
    try {
      validateHeaders(headers);
      body = validateBody(parsed, issuedPauseTurns);
      plan = cache.plan(body);
    } catch (err) {
      if (err instanceof CacheRequestError) return reject(res, record, 400, 'invalid_request_error', err.message);
      if (!(err instanceof ApiReject)) throw err;
      return reject(res, record, err.status, err.errorType, err.message);
    }

    const index = callIndex++;
    let reply: FakeReply | undefined;
    try {
      reply = await nextReply(body, index);
    } catch (err) {
      return reject(res, record, 500, 'api_error', `fakeClaude: the respond() handler threw: ${String(err)}`);
    }
    if (!reply) {
      return reject(res, record, 500, 'api_error', `fakeClaude: no scripted reply for request #${index} (queue empty and no respond() handler)`);
    }
    if ('httpStatus' in reply) {
      const headersOut: Record<string, string> = reply.retryAfter !== undefined ? { 'retry-after': String(reply.retryAfter) } : {};
      const message = reply.message ?? `${reply.errorType} (scripted by the test)`;
      return send(res, record, reply.httpStatus, errorEnvelope(reply.errorType, message, ''), headersOut);
    }
    // Only a request that is processed reads and writes the cache (an error reply does neither).
    const message = renderMessage(reply, body, cache.charge(plan));
    if (reply.stopReason === 'pause_turn') issuedPauseTurns.push((message.content as unknown[]).map(canonical));
    send(res, record, 200, message);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('fakeClaude internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(errorEnvelope('api_error', `fakeClaude internal error: ${String(err)}`, '')));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond: (h) => {
      handler = h;
    },
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    pending: () => queue.length,
    waitForRequests: (n, timeoutMs = 5000) =>
      new Promise((resolve, rejectWait) => {
        const answered = (): FakeClaudeRequest[] => requests.filter((r) => r.status !== undefined);
        const check = (): boolean => {
          const done = answered();
          if (done.length < n) return false;
          resolve(done.slice(0, n));
          return true;
        };
        if (check()) return;
        const waiter = (): void => {
          if (!check()) return;
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = answered()
            .map((r, k) => `  #${k} ${r.status}${r.rejected ? ` rejected: ${r.rejected}` : ''}`)
            .join('\n');
          rejectWait(new Error(`fakeClaude: waitForRequests(${n}) timed out after ${timeoutMs} ms; answered:\n${seen || '  (none)'}`));
        }, timeoutMs);
        waiters.add(waiter);
      }),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    cache: { size: () => cache.size(), clear: () => cache.clear() },
    advanceClock: (ms) => {
      clockOffset += ms;
    },
    close: async () => {
      waiters.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
