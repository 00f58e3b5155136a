import { createHash } from 'node:crypto';
import type { McpListedTool } from '../../connectors/mcp/connection.js';
import type { ExternalToolDefinition } from '../types.js';

/** JSON with object keys sorted at every level, so the same definition always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What an admin's trust covers: the description, the input schema and the annotations. */
export function definitionOf(tool: McpListedTool): ExternalToolDefinition {
  return {
    description: tool.description ?? '',
    inputSchema: tool.inputSchema as Record<string, unknown>,
    annotations: (tool.annotations ?? {}) as Record<string, unknown>,
  };
}

export function definitionHash(def: ExternalToolDefinition): string {
  return createHash('sha256').update(canonicalJson(def)).digest('hex');
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function properties(schema: Record<string, unknown>): Record<string, unknown> {
  const p = schema['properties'];
  return p && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

function requiredOf(schema: Record<string, unknown>): string[] {
  const r = schema['required'];
  return Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * What changed between the definition an admin trusted and the one the server offers now, in plain
 * words (untrusted text inside: callers escape it).
 */
export function describeDefinitionChange(before: ExternalToolDefinition, after: ExternalToolDefinition): string[] {
  const out: string[] = [];
  if (before.description !== after.description) {
    out.push(`description changed from "${clip(before.description, 200)}" to "${clip(after.description, 200)}"`);
  }
  if (canonicalJson(before.inputSchema) !== canonicalJson(after.inputSchema)) {
    const a = properties(before.inputSchema);
    const b = properties(after.inputSchema);
    const added = Object.keys(b).filter((k) => !(k in a));
    const removed = Object.keys(a).filter((k) => !(k in b));
    const changed = Object.keys(b).filter((k) => k in a && canonicalJson(a[k]) !== canonicalJson(b[k]));
    const req = canonicalJson(requiredOf(before.inputSchema).sort()) !== canonicalJson(requiredOf(after.inputSchema).sort());
    const bits = [
      added.length ? `added ${added.map((k) => `"${clip(k, 60)}"`).join(', ')}` : '',
      removed.length ? `removed ${removed.map((k) => `"${clip(k, 60)}"`).join(', ')}` : '',
      changed.length ? `changed ${changed.map((k) => `"${clip(k, 60)}"`).join(', ')}` : '',
      req ? `required arguments now ${requiredOf(after.inputSchema).map((k) => `"${clip(k, 60)}"`).join(', ') || 'none'}` : '',
    ].filter(Boolean);
    out.push(`input schema changed${bits.length ? `: ${bits.join('; ')}` : ''}`);
  }
  const keys = new Set([...Object.keys(before.annotations), ...Object.keys(after.annotations)]);
  const annotationChanges = [...keys]
    .filter((k) => canonicalJson(before.annotations[k]) !== canonicalJson(after.annotations[k]))
    .map((k) => `${clip(k, 60)} ${before.annotations[k] === undefined ? 'unset' : clip(canonicalJson(before.annotations[k]), 60)} → ${after.annotations[k] === undefined ? 'unset' : clip(canonicalJson(after.annotations[k]), 60)}`);
  if (annotationChanges.length) out.push(`annotations changed: ${annotationChanges.join(', ')}`);
  return out;
}
