import { sql } from 'kysely';
import type { Db } from '../connection.js';
import type { ModelCallsTable } from '../schema.js';
import type { Insertable } from 'kysely';

export async function insertModelCall(db: Db, call: Insertable<ModelCallsTable>): Promise<void> {
  await db.insertInto('model_calls').values(call).execute();
}

/** Spend since `sinceIso` for a workspace, optionally for one user. */
export async function spendSince(db: Db, teamId: string, sinceIso: string, userId?: string): Promise<number> {
  let q = db
    .selectFrom('model_calls')
    .select((eb) => eb.fn.sum<number | null>('cost_usd').as('total'))
    .where('team_id', '=', teamId)
    .where('at', '>=', sinceIso);
  if (userId) q = q.where('user_id', '=', userId);
  const row = await q.executeTakeFirst();
  return Number(row?.total ?? 0);
}

export interface UsageTotals {
  model: string;
  /** Calls above the model's long-prompt threshold. */
  longPrompt: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  costUsd: number;
}

/**
 * Token totals of a workspace since a time, or of one run, summed per model and per call size: calls
 * whose prompt is above `longPromptAbove[model]` are summed apart, since they are priced differently.
 */
export async function usageTotals(db: Db, filter: { teamId: string; sinceIso: string } | { runId: string }, longPromptAbove: Record<string, number>): Promise<UsageTotals[]> {
  const prompt = sql<number>`(input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens)`;
  const cases = Object.entries(longPromptAbove).map(([model, above]) => sql`WHEN model = ${model} AND ${prompt} > ${above} THEN 1`);
  const tier = cases.length ? sql<number>`CASE ${sql.join(cases, sql` `)} ELSE 0 END` : sql<number>`0`;
  let q = db
    .selectFrom('model_calls')
    .select((eb) => [
      'model',
      tier.as('tier'),
      eb.fn.sum<number>('input_tokens').as('input'),
      eb.fn.sum<number>('output_tokens').as('output'),
      eb.fn.sum<number>('cache_read_tokens').as('read'),
      eb.fn.sum<number>('cache_write_5m_tokens').as('w5'),
      eb.fn.sum<number>('cache_write_1h_tokens').as('w1'),
      eb.fn.sum<number>('cost_usd').as('cost'),
    ])
    .groupBy(['model', sql`2`]);
  q = 'runId' in filter ? q.where('run_id', '=', filter.runId) : q.where('team_id', '=', filter.teamId).where('at', '>=', filter.sinceIso);
  const rows = await q.execute();
  return rows.map((r) => ({
    model: r.model,
    longPrompt: Number(r.tier) === 1,
    inputTokens: Number(r.input),
    outputTokens: Number(r.output),
    cacheReadTokens: Number(r.read),
    cacheWrite5mTokens: Number(r.w5),
    cacheWrite1hTokens: Number(r.w1),
    costUsd: Number(r.cost),
  }));
}
