import { getAction } from '../../db/repos/actions.js';
import { getRun } from '../../db/repos/runs.js';
import type { Mrkdwn } from '../../text/mrkdwn.js';
import { PRIORITY } from '../outbox.js';
import type { EngineContext } from './context.js';

// Slack messages queued outside a state change of the run: each is its own small write to the outbox.

/** A line in the run's thread (safe mrkdwn only). */
export async function announce(ctx: EngineContext, runId: string, text: Mrkdwn, priority: (typeof PRIORITY)[keyof typeof PRIORITY] = PRIORITY.normal): Promise<void> {
  const { db, outbox } = ctx.deps;
  const run = await getRun(db, runId);
  if (!run) return;
  await outbox.line(db, run, text, priority);
  outbox.wake();
}

export async function updateTaskMessage(ctx: EngineContext, runId: string, urgency: 'now' | 'soon' = 'now'): Promise<void> {
  const { db, outbox } = ctx.deps;
  const run = await getRun(db, runId);
  if (!run) return;
  await outbox.updateTaskMessage(db, run, urgency);
  outbox.wake();
}

/** Re-renders a card (after a decision, a cancel, a change of the workspace's state). */
export async function refreshCard(ctx: EngineContext, actionId: string): Promise<void> {
  const { db, outbox } = ctx.deps;
  const action = await getAction(db, actionId);
  const run = action ? await getRun(db, action.run_id) : undefined;
  if (!action || !run) return;
  await outbox.updateCard(db, run, action.id);
  outbox.wake();
}

/** Re-renders every undecided card of a workspace (after disable/enable, so they say so). */
export async function refreshPendingCards(ctx: EngineContext, teamId: string): Promise<void> {
  const { db, outbox } = ctx.deps;
  const rows = await db.selectFrom('actions').select(['id', 'run_id', 'team_id']).where('team_id', '=', teamId).where('status', '=', 'pending').execute();
  await db.transaction().execute(async (trx) => {
    for (const r of rows) {
      const run = await getRun(trx, r.run_id);
      if (run) await outbox.updateCard(trx, run, r.id);
    }
  });
  outbox.wake();
}
