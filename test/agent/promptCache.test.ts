import { describe, expect, it } from 'vitest';
import { addCacheBreakpoints, estimateTokens, MAX_CACHE_BREAKPOINTS, minCacheableTokens, type CacheableMessage } from '../../src/agent/promptCache.js';

const tool = (name: string, words: number) => ({ name, description: 'word '.repeat(words), input_schema: { type: 'object' } });
/** Roughly 1,600 estimated tokens: above Sonnet's minimum, below Opus'. */
const tools = [tool('a', 1200), tool('b', 100), tool('c', 10)];
const system = 'You are an assistant.';

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function conversation(turns: number): CacheableMessage[] {
  const out: CacheableMessage[] = [{ role: 'user', content: [{ type: 'text', text: 'Task: email Sarah the Q2 numbers' }] }];
  for (let i = 0; i < turns; i++) {
    out.push({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'hm', signature: 'sig' },
        { type: 'text', text: 'Searching.' },
        { type: 'tool_use', id: `toolu_${i}`, name: 'a', input: { q: 'x' } },
      ],
    });
    out.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: 'result text '.repeat(200) }] });
  }
  return out;
}

function markers(v: unknown): string[] {
  const found: string[] = [];
  const walk = (x: unknown, path: string) => {
    if (Array.isArray(x)) x.forEach((y, i) => walk(y, `${path}.${i}`));
    else if (x && typeof x === 'object') {
      for (const [k, y] of Object.entries(x)) {
        if (k === 'cache_control') found.push(path);
        else walk(y, `${path}.${k}`);
      }
    }
  };
  walk(v, '');
  return found;
}

describe('prompt cache breakpoints', () => {
  it('marks the tools, the system prompt, the previous turn and the end of the conversation: four at most', () => {
    const messages = deepFreeze(conversation(3));
    const before = JSON.stringify(messages);
    const out = addCacheBreakpoints({ model: 'claude-sonnet-5-5', system, tools: deepFreeze(tools), messages });
    expect(out.breakpoints).toBe(MAX_CACHE_BREAKPOINTS);
    expect(markers({ tools: out.tools, system: out.system, messages: out.messages })).toEqual(['.tools.2', '.system.0', '.messages.4.content.0', '.messages.6.content.0']);
    // The stored conversation is untouched (frozen objects would have thrown on a write, too).
    expect(JSON.stringify(messages)).toBe(before);
    // Unmarked messages are passed through as they are; marked ones differ only by the marker.
    expect(out.messages[1]).toBe(messages[1]);
    const { cache_control: _m, ...rest } = out.messages[6]!.content[0] as Record<string, unknown>;
    expect(rest).toEqual(messages[6]!.content[0]);
  });

  it('never marks a thinking block or an empty text block: the last block that may carry one is used', () => {
    const messages: CacheableMessage[] = [
      { role: 'user', content: [{ type: 'text', text: 'x'.repeat(8000) }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Working on it' }, { type: 'thinking', thinking: '', signature: 's' }, { type: 'text', text: ' ' }] },
    ];
    const out = addCacheBreakpoints({ model: 'claude-sonnet-5-5', system, tools: [], messages });
    expect(markers(out.messages)).toEqual(['.0.content.0', '.1.content.0']);
  });

  it('puts no breakpoint where the prefix is below the model minimum', () => {
    const small = addCacheBreakpoints({ model: 'claude-sonnet-5-5', system, tools: [tool('a', 10)], messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
    expect(small.breakpoints).toBe(0);
    expect(small.system).toBe(system);
    // Opus needs 4,096 tokens: the tools alone are not enough, the grown conversation is.
    const opus = addCacheBreakpoints({ model: 'claude-opus-5-5', system, tools, messages: conversation(6) });
    expect(minCacheableTokens('claude-opus-5-5')).toBe(4096);
    expect(markers({ tools: opus.tools, system: opus.system, messages: opus.messages })).toEqual(['.messages.10.content.0', '.messages.12.content.0']);
    const prefix = (turns: number) => tools.reduce((n, t) => n + estimateTokens(t), 0) + estimateTokens(system) + conversation(turns).flatMap((m) => m.content).reduce((n: number, b) => n + estimateTokens(b), 0);
    expect(prefix(5)).toBeGreaterThan(4096);
    expect(prefix(1)).toBeLessThan(4096);
  });

  it('on the first turn marks the stable prefix and the task; a pause_turn continuation marks the assistant turn', () => {
    const first = addCacheBreakpoints({ model: 'claude-sonnet-5-5', system, tools, messages: conversation(0) });
    expect(markers({ tools: first.tools, system: first.system, messages: first.messages })).toEqual(['.tools.2', '.system.0', '.messages.0.content.0']);
    const paused: CacheableMessage[] = [...conversation(0), { role: 'assistant', content: [{ type: 'text', text: 'Still searching' }] }];
    const cont = addCacheBreakpoints({ model: 'claude-sonnet-5-5', system, tools, messages: paused });
    expect(markers(cont.messages)).toEqual(['.0.content.0', '.1.content.0']);
  });
});
