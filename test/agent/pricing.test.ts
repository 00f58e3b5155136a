import { describe, expect, it } from 'vitest';
import { cachingSavedUsd, costUsd, priceFor, type TokenUsage } from '../../src/agent/pricing.js';
import { checkCaps } from '../../src/policy/caps.js';

const usage = { inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, cacheWrite5mTokens: 400, cacheWrite1hTokens: 100 };

describe('cost per model and cache field (hand-computed)', () => {
  it('Sonnet 5.5: 2 / 10, cache read 0.10, writes 1.25x and 2x input', () => {
    // 0.002 + 0.005 + 0.0002 + 0.001 + 0.0004
    expect(costUsd('claude-sonnet-5-5', usage)).toBeCloseTo(0.0086, 9);
  });
  it('Opus 5.5: 4 / 20, cache read 0.20', () => {
    // 0.004 + 0.01 + 0.0004 + 0.002 + 0.0008
    expect(costUsd('claude-opus-5-5', usage)).toBeCloseTo(0.0172, 9);
  });
  it('Haiku 5.5 up to 100k prompt tokens: 0.10 / 0.50, cache read 0.01', () => {
    // 0.0001 + 0.00025 + 0.00002 + 0.00005 + 0.00002
    expect(costUsd('claude-haiku-5-5', usage)).toBeCloseTo(0.00044, 9);
  });
  it('Haiku 5.5 above 100k prompt tokens: 0.50 / 2.50', () => {
    const long = { inputTokens: 150_000, outputTokens: 1000, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
    expect(costUsd('claude-haiku-5-5', long)).toBeCloseTo(0.0775, 9);
  });
  it('each field on its own', () => {
    const only = (k: keyof typeof usage, n: number) => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, [k]: n });
    expect(costUsd('claude-sonnet-5-5', only('inputTokens', 1_000_000))).toBe(2);
    expect(costUsd('claude-sonnet-5-5', only('outputTokens', 1_000_000))).toBe(10);
    expect(costUsd('claude-sonnet-5-5', only('cacheReadTokens', 1_000_000))).toBe(0.1);
    expect(costUsd('claude-sonnet-5-5', only('cacheWrite5mTokens', 1_000_000))).toBe(2.5);
    expect(costUsd('claude-sonnet-5-5', only('cacheWrite1hTokens', 1_000_000))).toBe(4);
  });
  it('unknown models are priced at the most expensive known rate', () => {
    expect(priceFor('claude-mystery-9').known).toBe(false);
    expect(costUsd('claude-mystery-9', usage)).toBe(costUsd('claude-opus-5-5', usage));
  });
});

describe('checkCaps', () => {
  const caps = { runUsd: 0.5, userDayUsd: 5, workspaceDayUsd: 25, turns: 25 };
  const ok = { runUsd: 0.1, turns: 3, userDayUsd: 1, workspaceDayUsd: 2 };
  it('passes under every cap and names the first one reached', () => {
    expect(checkCaps(ok, caps)).toEqual({ ok: true });
    expect(checkCaps({ ...ok, runUsd: 0.5 }, caps)).toMatchObject({ ok: false, cap: 'run', limit: 0.5 });
    expect(checkCaps({ ...ok, turns: 25 }, caps)).toMatchObject({ ok: false, cap: 'turns' });
    expect(checkCaps({ ...ok, userDayUsd: 5.01 }, caps)).toMatchObject({ ok: false, cap: 'user-day' });
    expect(checkCaps({ ...ok, workspaceDayUsd: 30 }, caps)).toMatchObject({ ok: false, cap: 'workspace-day', used: 30 });
  });
});

describe('what prompt caching saved', () => {
  const usage = (u: Partial<TokenUsage>): TokenUsage => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, ...u });

  it('is the plain-input price of the cached tokens minus what reads and writes cost', () => {
    // Sonnet 5.5: input $2, read $0.10 per million; a 5-minute write costs 0.25x input extra, 1-hour 1x.
    expect(cachingSavedUsd('claude-sonnet-5-5', usage({ cacheReadTokens: 1_000_000 }))).toBeCloseTo(1.9, 6);
    expect(cachingSavedUsd('claude-sonnet-5-5', usage({ cacheWrite5mTokens: 1_000_000 }))).toBeCloseTo(-0.5, 6);
    expect(cachingSavedUsd('claude-sonnet-5-5', usage({ cacheWrite1hTokens: 1_000_000 }))).toBeCloseTo(-2, 6);
    // Output and plain input are the same either way.
    expect(cachingSavedUsd('claude-sonnet-5-5', usage({ inputTokens: 5000, outputTokens: 5000 }))).toBe(0);
    // It agrees with costUsd: billed + saved = the same prompt with no caching at all.
    const u = usage({ inputTokens: 300, outputTokens: 200, cacheReadTokens: 9000, cacheWrite5mTokens: 1200 });
    const plain = costUsd('claude-opus-5-5', usage({ inputTokens: 10_500, outputTokens: 200 }));
    expect(costUsd('claude-opus-5-5', u) + cachingSavedUsd('claude-opus-5-5', u)).toBeCloseTo(plain, 6);
  });

  it('uses the long-prompt rates of a long call, or of summed calls when told', () => {
    const long = usage({ cacheReadTokens: 150_000 });
    // Haiku above 100k prompt tokens: input $0.50, read $0.05.
    expect(cachingSavedUsd('claude-haiku-5-5', long)).toBeCloseTo(150_000 * 0.45 / 1e6, 6);
    // Thirty short calls summed: the total is above 100k but each call was priced at the standard rates.
    expect(cachingSavedUsd('claude-haiku-5-5', long, false)).toBeCloseTo(150_000 * 0.09 / 1e6, 6);
  });
});
