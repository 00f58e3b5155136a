/**
 * Prompt caching: where a request carries `cache_control` breakpoints.
 *
 * The API caches the prefix up to each breakpoint (render order tools -> system -> messages) and charges
 * a later request that repeats the prefix a small fraction of the input price. Rules that shape this:
 *  - at most 4 breakpoints per request;
 *  - a prefix shorter than the model's minimum is silently not cached, so a breakpoint there is wasted;
 *  - any byte changed before a breakpoint misses; a run's conversation is append-only, so each turn's
 *    request repeats the previous one and adds to its end;
 *  - thinking blocks cannot carry a breakpoint.
 *
 * The markers are added to a copy of the request only. The stored conversation is never touched: a run's
 * messages must be replayed byte for byte (thinking signatures), and where the breakpoints go changes
 * from turn to turn.
 */

/** Minimum cacheable prefix per model, in tokens. Dated like the price table: check when models change. */
export const CACHE_MINIMUMS_AS_OF = '2026-11-01';
export const MIN_CACHEABLE_TOKENS: Record<string, number> = {
  'claude-opus-5-5': 4096,
  'claude-sonnet-5-5': 1024,
  'claude-haiku-5-5': 4096,
};
/** An unknown model is tried at the lowest known minimum: a breakpoint below its real one only goes unused. */
const DEFAULT_MIN_CACHEABLE_TOKENS = 1024;

export const MAX_CACHE_BREAKPOINTS = 4;

export function minCacheableTokens(model: string): number {
  return MIN_CACHEABLE_TOKENS[model] ?? DEFAULT_MIN_CACHEABLE_TOKENS;
}

/**
 * A deliberately low token estimate (4 characters of JSON per token; real tokenisation gives more tokens
 * per character for JSON and most prose), so a prefix judged long enough really is.
 */
export function estimateTokens(value: unknown): number {
  return Math.ceil((JSON.stringify(value) ?? '').length / 4);
}

/**
 * A run's tool list is parsed once and shared, frozen, by every call (src/agent/toolList.ts): its size
 * is estimated once per tool object, not re-serialised on every model call.
 */
const frozenToolTokens = new WeakMap<object, number>();

function toolTokens(tool: unknown): number {
  if (!tool || typeof tool !== 'object' || !Object.isFrozen(tool)) return estimateTokens(tool);
  let n = frozenToolTokens.get(tool);
  if (n === undefined) {
    n = estimateTokens(tool);
    frozenToolTokens.set(tool, n);
  }
  return n;
}

type Block = Record<string, unknown>;
export interface CacheableMessage {
  role: 'user' | 'assistant';
  content: unknown[];
}

export interface CachedRequestParts {
  /** A string when no breakpoint is on it (unchanged), else one text block carrying the breakpoint. */
  system: string | Block[];
  tools: unknown[];
  messages: CacheableMessage[];
  breakpoints: number;
}

/** Block types the API lets carry `cache_control` (not thinking or redacted_thinking). */
const MARKABLE = new Set(['text', 'tool_use', 'tool_result', 'image', 'document', 'search_result']);

const EPHEMERAL = Object.freeze({ type: 'ephemeral' as const });

function isBlock(v: unknown): v is Block {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function markable(block: unknown): boolean {
  if (!isBlock(block) || typeof block.type !== 'string' || !MARKABLE.has(block.type)) return false;
  // An empty text block cannot carry a breakpoint.
  return block.type !== 'text' || (typeof block.text === 'string' && block.text.trim() !== '');
}

/** Index of the last block of a message that can carry a breakpoint, or -1. */
function lastMarkable(content: unknown[]): number {
  for (let j = content.length - 1; j >= 0; j--) if (markable(content[j])) return j;
  return -1;
}

/**
 * Breakpoints, in render order, each only where the prefix up to it reaches the model's minimum:
 *  1. the last tool: the tool list is the same for every run of a deployment, so runs share it;
 *  2. the system prompt: the end of this run's stable prefix;
 *  3. the end of the previous request's conversation (the last user message before the final one):
 *     read back what the previous turn wrote, however many blocks were added since;
 *  4. the end of the conversation: written now, read by the next turn.
 */
export function addCacheBreakpoints(req: { model: string; system: string; tools: unknown[]; messages: CacheableMessage[] }): CachedRequestParts {
  const min = minCacheableTokens(req.model);
  let tokens = 0;
  let breakpoints = 0;

  let tools = req.tools;
  for (const t of req.tools) tokens += toolTokens(t);
  const lastTool = req.tools.at(-1);
  if (isBlock(lastTool) && tokens >= min) {
    tools = [...req.tools.slice(0, -1), { ...lastTool, cache_control: EPHEMERAL }];
    breakpoints++;
  }

  let system: string | Block[] = req.system;
  tokens += estimateTokens(req.system);
  if (req.system.trim() !== '' && tokens >= min) {
    system = [{ type: 'text', text: req.system, cache_control: EPHEMERAL }];
    breakpoints++;
  }

  // Tokens up to and including each message's last markable block.
  const reach: number[] = [];
  for (const m of req.messages) {
    const last = lastMarkable(m.content);
    m.content.forEach((b, j) => {
      tokens += estimateTokens(b);
      if (j === last) reach.push(tokens);
    });
    if (last < 0) reach.push(-1);
  }

  const final = req.messages.length - 1;
  let previous = -1;
  for (let i = final - 1; i >= 0; i--) {
    if (req.messages[i]?.role === 'user') {
      previous = i;
      break;
    }
  }
  const marked = new Set<number>();
  for (const i of [previous, final]) {
    if (i < 0 || breakpoints >= MAX_CACHE_BREAKPOINTS) continue;
    const at = reach[i] ?? -1;
    if (at >= 0 && at >= min) {
      marked.add(i);
      breakpoints++;
    }
  }
  const messages = marked.size === 0 ? req.messages : req.messages.map((m, i) => (marked.has(i) ? markMessage(m) : m));
  return { system, tools, messages, breakpoints };
}

function markMessage(m: CacheableMessage): CacheableMessage {
  const j = lastMarkable(m.content);
  const content = m.content.slice();
  content[j] = { ...(m.content[j] as Block), cache_control: EPHEMERAL };
  return { role: m.role, content };
}
