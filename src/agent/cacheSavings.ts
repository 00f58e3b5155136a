import type { Db } from '../db/connection.js';
import { usageTotals } from '../db/repos/modelCalls.js';
import { cachingSavedUsd, longPromptThresholds } from './pricing.js';

/**
 * What prompt caching saved, from the stored usage of every model call (priced with today's table): for
 * one run (its task message) or a workspace since a time (`/agent status`, today).
 */
export async function cacheSavedUsd(db: Db, filter: { runId: string } | { teamId: string; sinceIso: string }): Promise<number> {
  const totals = await usageTotals(db, filter, longPromptThresholds());
  const saved = totals.reduce((sum, t) => sum + cachingSavedUsd(t.model, t, t.longPrompt), 0);
  return Math.round(saved * 1_000_000) / 1_000_000;
}
