/** Canonical forms shared by the fake Claude's thinking signatures and its prompt cache. */

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Sorted-key JSON that ignores `cache_control` and null/undefined fields: moving a cache breakpoint or
 * a storage layer dropping `citations: null` is not a change the real API cares about.
 */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v)
      .filter((k) => k !== 'cache_control' && v[k] !== null && v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A string prompt and one text block are the same prompt. */
export function normalizeContent(content: unknown): unknown {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}
