/**
 * Claude prices in USD per million tokens, as published in autumn 2026. Prices change: keep the date
 * with the table and add a new dated row rather than editing history.
 */
export const PRICES_AS_OF = '2026-11-01';

export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  /** A second, higher tier for long prompts (Haiku 5.5 above 100k prompt tokens). */
  longPrompt?: { aboveTokens: number; input: number; output: number; cacheRead: number };
}

export const PRICE_TABLE: Record<string, ModelPrice> = {
  'claude-opus-5-5': { input: 4, output: 20, cacheRead: 0.2 },
  'claude-sonnet-5-5': { input: 2, output: 10, cacheRead: 0.1 },
  'claude-haiku-5-5': {
    input: 0.1,
    output: 0.5,
    cacheRead: 0.01,
    longPrompt: { aboveTokens: 100_000, input: 0.5, output: 2.5, cacheRead: 0.05 },
  },
};

/** A 5-minute cache write costs 1.25x input, a 1-hour one 2x. */
export const CACHE_WRITE_5M_FACTOR = 1.25;
export const CACHE_WRITE_1H_FACTOR = 2;

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
}

/** Unknown models are priced at the most expensive known rate so a cap can never be under-counted. */
function mostExpensive(): ModelPrice {
  return Object.values(PRICE_TABLE).reduce((a, b) => (b.output > a.output ? b : a));
}

export function priceFor(model: string): { price: ModelPrice; known: boolean } {
  const known = PRICE_TABLE[model];
  return known ? { price: known, known: true } : { price: mostExpensive(), known: false };
}

/** Each part of one call's cost in USD, at the rates the whole call's prompt size selects. */
export function costBreakdown(model: string, usage: TokenUsage): Record<keyof TokenUsage, number> {
  const { price } = priceFor(model);
  const promptTokens =
    usage.inputTokens + usage.cacheReadTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
  const rates =
    price.longPrompt && promptTokens > price.longPrompt.aboveTokens ? price.longPrompt : price;
  const perToken = (usdPerMillion: number) => usdPerMillion / 1_000_000;
  return {
    inputTokens: usage.inputTokens * perToken(rates.input),
    outputTokens: usage.outputTokens * perToken(rates.output),
    cacheReadTokens: usage.cacheReadTokens * perToken(rates.cacheRead),
    cacheWrite5mTokens: usage.cacheWrite5mTokens * perToken(rates.input * CACHE_WRITE_5M_FACTOR),
    cacheWrite1hTokens: usage.cacheWrite1hTokens * perToken(rates.input * CACHE_WRITE_1H_FACTOR),
  };
}

export function costUsd(model: string, usage: TokenUsage): number {
  const parts = costBreakdown(model, usage);
  const cost = parts.inputTokens + parts.outputTokens + parts.cacheReadTokens + parts.cacheWrite5mTokens + parts.cacheWrite1hTokens;
  // Round to a millionth of a dollar: enough precision for caps, stable in SQLite REAL columns.
  return Math.round(cost * 1_000_000) / 1_000_000;
}

/**
 * What prompt caching saved: the same prompt billed as plain input, minus what was billed. Negative when
 * a prefix was written (1.25x or 2x) and never read back. `longPrompt` picks the rates for usage summed
 * over several calls (whose total says nothing about each call's size); by default the usage is one call.
 */
export function cachingSavedUsd(model: string, usage: TokenUsage, longPrompt?: boolean): number {
  const { price } = priceFor(model);
  const promptTokens = usage.inputTokens + usage.cacheReadTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
  const long = longPrompt ?? (price.longPrompt !== undefined && promptTokens > price.longPrompt.aboveTokens);
  const rates = long && price.longPrompt ? price.longPrompt : price;
  const saved =
    usage.cacheReadTokens * (rates.input - rates.cacheRead) -
    usage.cacheWrite5mTokens * rates.input * (CACHE_WRITE_5M_FACTOR - 1) -
    usage.cacheWrite1hTokens * rates.input * (CACHE_WRITE_1H_FACTOR - 1);
  return Math.round(saved) / 1_000_000;
}

/** Prompt sizes above which a model is priced at its long-prompt rates (for grouping stored usage). */
export function longPromptThresholds(): Record<string, number> {
  return Object.fromEntries(Object.entries(PRICE_TABLE).flatMap(([m, p]) => (p.longPrompt ? [[m, p.longPrompt.aboveTokens]] : [])));
}
