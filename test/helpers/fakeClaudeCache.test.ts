/**
 * The fake Claude's prompt cache, driven by the real SDK: it must charge like the API (reads only for a
 * prefix seen within its TTL, writes for new prefixes, nothing below the minimum) and refuse what the API
 * refuses (more than 4 breakpoints, a 1-hour breakpoint after a 5-minute one, markers on thinking blocks).
 */
import Anthropic, { BadRequestError } from '@anthropic-ai/sdk';
import type { MessageParam, TextBlockParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeClaude, textReply, toolUseReply, type FakeClaude } from './fakeClaude.js';

const model = 'claude-sonnet-5-5';
const ephemeral = { type: 'ephemeral' as const };
/** About 1,500 tokens of tool descriptions: above Sonnet's 1,024-token minimum on its own. */
const bigTools: Tool[] = Array.from({ length: 3 }, (_, i) => ({
  name: `tool_${i}`,
  description: `Tool number ${i}. ${'It does something useful with the records of the team. '.repeat(36)}`,
  input_schema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
}));
const markLast = (tools: Tool[]): Tool[] => [...tools.slice(0, -1), { ...tools.at(-1)!, cache_control: ephemeral }];
const system = (text: string, cc = true): TextBlockParam[] => [{ type: 'text', text, ...(cc ? { cache_control: ephemeral } : {}) }];

describe('fake Claude prompt cache', () => {
  let claude: FakeClaude;
  let client: Anthropic;
  let now = 1_000_000;

  beforeEach(async () => {
    now = 1_000_000;
    claude = await startFakeClaude({ now: () => now });
    claude.respond(() => textReply('ok'));
    client = new Anthropic({ apiKey: 'test', baseURL: claude.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await claude.close();
  });

  const ask = (text: string): MessageParam => ({ role: 'user', content: [{ type: 'text', text }] });

  it('writes a new prefix, reads it back on the next request, and charges the rest as input', async () => {
    const first = await client.messages.create({ model, max_tokens: 100, tools: markLast(bigTools), system: 'Be brief.', messages: [ask('hello')] });
    const written = first.usage.cache_creation_input_tokens ?? 0;
    expect(written).toBeGreaterThan(1024);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    expect(first.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(written);

    const second = await client.messages.create({ model, max_tokens: 100, tools: markLast(bigTools), system: 'Be brief.', messages: [ask('another question')] });
    expect(second.usage.cache_read_input_tokens).toBe(written);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
    // Everything after the breakpoint is ordinary input, and the three add up to the same prompt size.
    expect(second.usage.input_tokens).toBeGreaterThan(0);
    const total = (u: Anthropic.Usage) => u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
    expect(Math.abs(total(second.usage) - total(first.usage))).toBeLessThan(10);
  });

  it('charges no read once the TTL has passed since the last use, and a use refreshes the TTL', async () => {
    const req = { model, max_tokens: 100, tools: markLast(bigTools), messages: [ask('hello')] };
    const first = await client.messages.create(req);
    now += 4 * 60_000;
    expect((await client.messages.create(req)).usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    // 8 minutes after the write but 4 after the last use: still cached.
    now += 4 * 60_000;
    expect((await client.messages.create(req)).usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    now += 5 * 60_000 + 1;
    const expired = await client.messages.create(req);
    expect(expired.usage.cache_read_input_tokens).toBe(0);
    expect(expired.usage.cache_creation_input_tokens).toBe(first.usage.cache_creation_input_tokens);
  });

  it('keeps a 1-hour breakpoint for an hour and bills its write apart', async () => {
    const tools = [...bigTools.slice(0, -1), { ...bigTools.at(-1)!, cache_control: { type: 'ephemeral' as const, ttl: '1h' as const } }];
    const req = { model, max_tokens: 100, tools, messages: [ask('hello')] };
    const first = await client.messages.create(req);
    expect(first.usage.cache_creation?.ephemeral_1h_input_tokens).toBeGreaterThan(1024);
    expect(first.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(0);
    now += 50 * 60_000;
    expect((await client.messages.create(req)).usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    now += 61 * 60_000;
    expect((await client.messages.create(req)).usage.cache_read_input_tokens).toBe(0);
  });

  it('caches nothing below the model minimum, silently', async () => {
    const small: Tool[] = [{ name: 'tiny', description: 'Tiny.', input_schema: { type: 'object' }, cache_control: ephemeral }];
    const req = { model, max_tokens: 100, tools: small, system: system('Be brief.'), messages: [ask('hello')] };
    const first = await client.messages.create(req);
    const second = await client.messages.create(req);
    for (const r of [first, second]) {
      expect(r.usage.cache_creation_input_tokens).toBe(0);
      expect(r.usage.cache_read_input_tokens).toBe(0);
    }
    expect(claude.cache.size()).toBe(0);
    // The same prefix is long enough for a model with a lower minimum: the table is per model.
    const opus = await client.messages.create({ ...req, model: 'claude-opus-5-5', tools: markLast(bigTools) });
    expect(opus.usage.cache_creation_input_tokens).toBe(0);
  });

  it('misses when any byte before the breakpoint changed, and caches per model', async () => {
    await client.messages.create({ model, max_tokens: 100, tools: markLast(bigTools), messages: [ask('hello')] });
    const edited = bigTools.map((t, i) => (i === 0 ? { ...t, description: `${t.description}!` } : t));
    const changed = await client.messages.create({ model, max_tokens: 100, tools: markLast(edited), messages: [ask('hello')] });
    expect(changed.usage.cache_read_input_tokens).toBe(0);
    const otherModel = await client.messages.create({ model: 'claude-haiku-5-5', max_tokens: 100, tools: markLast(bigTools), system: system('x'.repeat(12_000)), messages: [ask('hello')] });
    expect(otherModel.usage.cache_read_input_tokens).toBe(0);
  });

  it('reads a prefix written at an earlier breakpoint from a later one up to 20 blocks back, as a conversation grows', async () => {
    claude.respond((body) => (body.messages.length < 5 ? toolUseReply([{ name: 'tool_0', input: { query: 'q' } }]) : textReply('done')));
    const messages: MessageParam[] = [ask('start')];
    const mark = (ms: MessageParam[]): MessageParam[] =>
      ms.map((m, i) => (i === ms.length - 1 && Array.isArray(m.content) ? { ...m, content: m.content.map((b, j, all) => (j === all.length - 1 ? { ...b, cache_control: ephemeral } : b)) as never } : m));
    let previousPrompt = 0;
    for (let turn = 0; turn < 3; turn++) {
      const res = await client.messages.create({ model, max_tokens: 100, tools: bigTools, messages: mark(messages) });
      const u = res.usage;
      const prompt = u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
      // Each turn reads everything the previous one sent, and writes only what was added since.
      expect(u.cache_read_input_tokens).toBe(turn === 0 ? 0 : previousPrompt);
      expect(u.input_tokens).toBe(0);
      previousPrompt = prompt;
      const toolUse = res.content.find((b) => b.type === 'tool_use');
      if (toolUse?.type !== 'tool_use') break;
      messages.push({ role: 'assistant', content: res.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'result '.repeat(50) }] });
    }
  });

  it('does not find a cached prefix more than 20 blocks before the only breakpoint', async () => {
    const blocks = (n: number, cc: boolean): MessageParam => ({
      role: 'user',
      content: Array.from({ length: n }, (_, i) => ({ type: 'text' as const, text: `part ${i}`, ...(cc && i === n - 1 ? { cache_control: ephemeral } : {}) })),
    });
    await client.messages.create({ model, max_tokens: 100, tools: bigTools, messages: [blocks(1, true)] });
    const near = await client.messages.create({ model, max_tokens: 100, tools: bigTools, messages: [blocks(20, true)] });
    expect(near.usage.cache_read_input_tokens).toBeGreaterThan(1024);
    claude.cache.clear();
    await client.messages.create({ model, max_tokens: 100, tools: bigTools, messages: [blocks(1, true)] });
    const far = await client.messages.create({ model, max_tokens: 100, tools: bigTools, messages: [blocks(23, true)] });
    expect(far.usage.cache_read_input_tokens).toBe(0);
  });

  it('refuses more than 4 breakpoints with the API 400', async () => {
    const tools = bigTools.map((t) => ({ ...t, cache_control: ephemeral }));
    const marked: MessageParam = { role: 'user', content: [{ type: 'text', text: 'hello', cache_control: ephemeral }] };
    const err = await client.messages.create({ model, max_tokens: 100, tools, system: system('Be brief.'), messages: [marked] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).message).toContain('A maximum of 4 blocks with cache_control may be provided. Found 5.');
    // Four is fine.
    await expect(client.messages.create({ model, max_tokens: 100, tools: tools.slice(0, 3), system: system('Be brief.'), messages: [ask('hello')] })).resolves.toBeTruthy();
  });

  it('refuses a 1-hour breakpoint after a 5-minute one, a bad ttl, and a marker on a thinking block', async () => {
    const oneHour = { type: 'ephemeral' as const, ttl: '1h' as const };
    const bad = await client.messages.create({ model, max_tokens: 100, tools: markLast(bigTools), system: [{ type: 'text', text: 'x', cache_control: oneHour }], messages: [ask('hello')] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).message).toContain("ttl='1h'");

    const ttl = await client.messages.create({ model, max_tokens: 100, system: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '2h' } as never }], messages: [ask('hello')] }).catch((e: unknown) => e);
    expect((ttl as BadRequestError).message).toContain("Input should be '5m' or '1h'");

    claude.respond(() => toolUseReply([{ name: 'tool_0', input: { query: 'q' } }], { thinking: 'Think first.' }));
    const first = await client.messages.create({ model, max_tokens: 100, tools: bigTools, messages: [ask('hello')] });
    const toolUse = first.content.find((b) => b.type === 'tool_use');
    if (toolUse?.type !== 'tool_use') throw new Error('expected tool_use');
    const markedThinking = first.content.map((b) => (b.type === 'thinking' ? { ...b, cache_control: ephemeral } : b));
    const thinking = await client.messages
      .create({
        model,
        max_tokens: 100,
        tools: bigTools,
        messages: [ask('hello'), { role: 'assistant', content: markedThinking as never }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'r' }] }],
      })
      .catch((e: unknown) => e);
    expect(thinking).toBeInstanceOf(BadRequestError);
    expect((thinking as BadRequestError).message).toContain('thinking.cache_control: Extra inputs are not permitted');
  });

  it('does not cache a request that was answered with an error', async () => {
    claude.respond(null);
    claude.enqueue({ httpStatus: 529, errorType: 'overloaded_error' });
    await client.messages.create({ model, max_tokens: 100, tools: markLast(bigTools), messages: [ask('hello')] }).catch(() => undefined);
    expect(claude.cache.size()).toBe(0);
  });

  it('advanceClock lets a test run a TTL out without waiting', async () => {
    const req = { model, max_tokens: 100, tools: markLast(bigTools), messages: [ask('hello')] };
    await client.messages.create(req);
    expect(claude.cache.size()).toBe(1);
    claude.advanceClock(5 * 60_000 + 1);
    expect(claude.cache.size()).toBe(0);
  });
});
