/**
 * The tool list a run was started with is stored as JSON text with the run (src/agent/engine/start.ts)
 * and never changes. Every model call of every run sends it, and the runs of one deployment share the
 * same text, so the parsed list (and its names) are kept per text: a few entries, least recently used
 * first out. The parsed list is frozen: callers copy before changing anything (prompt caching does).
 */
const MAX_ENTRIES = 8;

interface Parsed {
  tools: readonly unknown[];
  names: ReadonlySet<string>;
}

const cache = new Map<string, Parsed>();

function parse(json: string): Parsed {
  const hit = cache.get(json);
  if (hit) {
    cache.delete(json);
    cache.set(json, hit);
    return hit;
  }
  let tools: unknown;
  try {
    tools = JSON.parse(json);
  } catch {
    tools = [];
  }
  const list = Array.isArray(tools) ? (tools as unknown[]) : [];
  for (const t of list) if (t && typeof t === 'object') deepFreeze(t);
  const parsed: Parsed = {
    tools: Object.freeze(list),
    names: new Set(list.map((t) => (typeof (t as { name?: unknown })?.name === 'string' ? (t as { name: string }).name : '')).filter(Boolean)),
  };
  cache.set(json, parsed);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  return parsed;
}

function deepFreeze(v: object): void {
  for (const child of Object.values(v)) if (child && typeof child === 'object' && !Object.isFrozen(child)) deepFreeze(child);
  Object.freeze(v);
}

/** The tool list of a run, as sent to the model (unparseable text: no tools). */
export function runTools(toolsJson: string): readonly unknown[] {
  return parse(toolsJson).tools;
}

/** The names in the tool list of a run. */
export function runToolNames(toolsJson: string): ReadonlySet<string> {
  return parse(toolsJson).names;
}
