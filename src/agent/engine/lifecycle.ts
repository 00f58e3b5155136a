import { sql } from 'kysely';
import { lockRun, transitionRun } from '../../db/repos/runs.js';
import { taskKey } from '../outbox.js';
import type { RunSlots } from '../slots.js';
import type { RunChains } from './chains.js';
import { ACTIVE, type EngineContext } from './context.js';

// How an instance takes up runs (startup, periodic sweep) and lets go of them (shutdown).

/**
 * At startup, before the first sweep: repairs left by older versions or by a crash between two writes.
 * An action left `dispatching` is not settled here: only the instance that takes over its run does that,
 * once the dispatching instance's lease has expired, never because this one started.
 */
export async function repairAtStartup(ctx: EngineContext): Promise<void> {
  const { db, outbox } = ctx.deps;
  // A run suspended for approval whose cards are all decided was interrupted before it resumed. One
  // query, not one per suspended run: with thousands suspended that loop was most of the start-up.
  const allDecided = await db
    .selectFrom('runs')
    .select('id')
    .where('status', '=', 'awaiting_approval')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('actions').select('actions.id').whereRef('actions.run_id', '=', 'runs.id').where('actions.status', '=', 'pending'))))
    .execute();
  for (const { id } of allDecided) await transitionRun(db, id, ['awaiting_approval'], { status: 'running', updated_at: ctx.now() });
  // Runs stored before the outbox existed, or whose task message row is missing: queue it once.
  const untracked = await db
    .selectFrom('runs')
    .selectAll()
    .where('thread_ts', 'is', null)
    .where('status', 'in', [...ACTIVE])
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('slack_outbox').select('id').whereRef('slack_outbox.msg_key', '=', sql<string>`'task:' || runs.id`))))
    .execute();
  for (const run of untracked) {
    // Two instances starting together: the run's lock makes the second see the first one's row.
    await db.transaction().execute(async (trx) => {
      await lockRun(trx, run.id);
      const queued = await trx.selectFrom('slack_outbox').select('id').where('msg_key', '=', taskKey(run.id)).executeTakeFirst();
      if (!queued) await outbox.postTaskMessage(trx, run);
    });
  }
  if (untracked.length > 0) outbox.wake();
}

/**
 * Runs that need an instance (new, handed over, or whose instance is gone: lease expired) are taken by
 * whichever instance claims them first; waiters for a slot look again (slots freed elsewhere).
 */
export async function sweep(ctx: EngineContext, chains: RunChains, slots: RunSlots): Promise<string[]> {
  if (ctx.state.stopped) return [];
  const ids = (await ctx.deps.leases.orphans()).filter((id) => !chains.has(id));
  for (const id of ids) void chains.kick(id);
  slots.poke();
  return ids;
}

/**
 * Shutdown: no new step starts; steps in flight get up to `drainMs` to finish, then every lease is
 * handed over (another instance takes the runs at its next sweep), except those of runs in the middle
 * of a dispatch: their outcome is still being recorded, and if this process exits first, the lease
 * expires and the next holder marks the action outcome_unknown.
 */
export async function drainAndStop(ctx: EngineContext, chains: RunChains, slots: RunSlots, drainMs: number): Promise<void> {
  ctx.state.stopped = true;
  slots.drain();
  let timer: NodeJS.Timeout | undefined;
  const bound = Number.isFinite(drainMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs))) : undefined;
  await (bound ? Promise.race([chains.idle(), bound]) : chains.idle());
  if (timer) clearTimeout(timer);
  for (const runId of chains.runIds()) {
    if (!ctx.state.dispatching.has(runId)) await ctx.deps.leases.release(runId, 'handover').catch(() => undefined);
  }
}
