import { describe, expect, it } from 'vitest';
import { runToolNames, runTools } from '../../src/agent/toolList.js';

describe('a run tool list, parsed once per stored text', () => {
  it('returns the stored list and its names, the same (frozen) list for the same text', () => {
    const json = JSON.stringify([
      { name: 'search', description: 'Search', input_schema: { type: 'object', properties: { q: { type: 'string' } } } },
      { name: 'send_email', description: 'Send', input_schema: { type: 'object' } },
    ]);
    const tools = runTools(json);
    expect(tools).toEqual(JSON.parse(json));
    expect(runTools(`${json}`)).toBe(tools);
    expect([...runToolNames(json)]).toEqual(['search', 'send_email']);
    // Shared between runs and calls: nobody may change it in place.
    expect(Object.isFrozen(tools)).toBe(true);
    expect(() => {
      (tools[0] as { input_schema: { type: string } }).input_schema.type = 'string';
    }).toThrow(TypeError);
  });

  it('treats unparseable text as no tools', () => {
    expect(runTools('{not json')).toEqual([]);
    expect(runToolNames('{not json').size).toBe(0);
  });
});
