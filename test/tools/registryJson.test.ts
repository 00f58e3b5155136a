import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ToolRegistry } from '../../src/tools/registry.js';
import type { ToolDefinition } from '../../src/tools/types.js';

function tool(name: string, schema: z.ZodType, server?: string): ToolDefinition {
  return {
    name,
    description: `The ${name} tool`,
    inputSchema: schema,
    ...(server ? { external: { server, remoteName: name } as ToolDefinition['external'] } : {}),
    describe: () => ({ summary: name }) as never,
    run: async () => ({ content: 'ok' }) as never,
  };
}

describe('ToolRegistry: the tool list stored with each run', () => {
  it('is the JSON of the API tool list, and follows a source whose tools are listed again', () => {
    const registry = new ToolRegistry();
    registry.register(tool('search', z.object({ query: z.string() })));
    const source = { name: 'crm', kind: 'mcp' as const, url: 'http://crm.local', state: 'connected' as const };
    registry.setSource(source, [tool('crm__find', z.object({ id: z.string() }), 'crm')]);
    const first = registry.apiToolsJson();
    expect(first).toBe(JSON.stringify(registry.toApiTools()));
    expect(JSON.parse(first).map((t: { name: string }) => t.name)).toEqual(['search', 'crm__find']);
    expect(registry.apiToolsJson()).toBe(first);

    // Same name, new schema: the stored list must show the new one.
    registry.setSource(source, [tool('crm__find', z.object({ id: z.string(), deep: z.boolean() }), 'crm')]);
    const second = registry.apiToolsJson();
    expect(second).not.toBe(first);
    expect(second).toBe(JSON.stringify(registry.toApiTools()));
    expect(JSON.parse(second)[1].input_schema.properties).toHaveProperty('deep');

    registry.setSource(source, []);
    expect(JSON.parse(registry.apiToolsJson()).map((t: { name: string }) => t.name)).toEqual(['search']);
  });
});
