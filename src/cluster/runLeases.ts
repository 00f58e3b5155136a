import type { Db } from '../db/connection.js';
import { dbTime } from '../db/dbClock.js';

/**
 * How a lease ends. `idle`: the run has nothing to do (suspended, finished), so the lease is released
 * only if it is not `running`: a decision committed by another instance meanwhile is then still seen
 * by this one. `handover`: released whatever the run's state (shutdown): another instance takes it at
 * its next sweep. `cooldown`: released, but nobody takes it before a lease period has passed (a run
 * that keeps stopping without progress is not retried in a tight loop).
 */
export type ReleaseMode = 'idle' | 'handover' | 'cooldown';

/**
 * Run leases: a run is advanced by one instance at a time, the one named in `lease_owner`, until
 * `lease_expires_at` (the database's clock on Postgres). The owner's heartbeat renews every lease it
 * holds; a lease that expired belongs to an instance that is gone (or stalled past the lease) and may be
 * taken by any other. Every claim is a conditional update, so of several instances exactly one wins.
 */
export class RunLeases {
  constructor(
    private readonly db: Db,
    readonly owner: string,
    readonly leaseMs: number,
  ) {}

  /** Takes the run's lease if it is free, expired or already ours. */
  async claim(runId: string): Promise<boolean> {
    const { db } = this;
    const res = await db
      .updateTable('runs')
      // A slot held under an earlier lease is not this chain's: the run asks for one again.
      .set({ lease_owner: this.owner, lease_expires_at: dbTime(db, this.leaseMs), slot_held: 0 })
      .where('id', '=', runId)
      .where((eb) => eb.or([eb('lease_owner', '=', this.owner), eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', dbTime(db))]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /**
   * Ends our lease. `running`: not released because the run is running again (`idle` mode), the caller
   * keeps advancing it; `lost`: another instance holds it (ours expired).
   */
  async release(runId: string, mode: ReleaseMode): Promise<'released' | 'running' | 'lost'> {
    const { db } = this;
    let q = db
      .updateTable('runs')
      .set({
        lease_owner: null,
        lease_expires_at: mode === 'cooldown' ? dbTime(db, this.leaseMs) : null,
        slot_held: 0,
        // A run handed over keeps its place in the queue for slots.
        ...(mode === 'handover' ? {} : { queued_at: null }),
      })
      .where('id', '=', runId)
      .where('lease_owner', '=', this.owner);
    if (mode === 'idle') q = q.where('status', '!=', 'running');
    const res = await q.executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) return 'released';
    const row = await db.selectFrom('runs').select(['lease_owner']).where('id', '=', runId).executeTakeFirst();
    return row?.lease_owner === this.owner ? 'running' : 'lost';
  }

  /** The heartbeat: every lease this instance holds runs for another lease period. */
  async renewAll(): Promise<number> {
    const { db } = this;
    const res = await db.updateTable('runs').set({ lease_expires_at: dbTime(db, this.leaseMs) }).where('lease_owner', '=', this.owner).executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  /**
   * Runs that need an instance: running ones nobody holds (new, handed over, or whose instance is gone),
   * ended ones whose instance died while dispatching one of their actions (that action's outcome must be
   * settled), and every run whose lease this instance holds: the caller skips those it is advancing, so a
   * lease of ours that outlived its chain (a release that failed) is picked up again instead of being
   * renewed by the heartbeat forever.
   */
  async orphans(limit = 200): Promise<string[]> {
    const { db } = this;
    const now = dbTime(db);
    const running = await db
      .selectFrom('runs')
      .select('id')
      .where('status', '=', 'running')
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .orderBy('created_at')
      .limit(limit)
      .execute();
    const ours = await db.selectFrom('runs').select('id').where('lease_owner', '=', this.owner).limit(limit).execute();
    const interrupted = await db
      .selectFrom('actions')
      .innerJoin('runs', 'runs.id', 'actions.run_id')
      .select('runs.id')
      .distinct()
      .where('actions.status', '=', 'dispatching')
      .where('runs.status', '!=', 'running')
      .where((eb) => eb.or([eb('runs.lease_expires_at', 'is', null), eb('runs.lease_expires_at', '<', now)]))
      .limit(limit)
      .execute();
    return [...new Set([...running, ...interrupted, ...ours].map((r) => r.id))];
  }

  /** SQLite (one instance), at startup: leases and slots left by a previous process are void. */
  async voidAll(): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ lease_owner: null, lease_expires_at: null, slot_held: 0 })
      .where((eb) => eb.or([eb('lease_expires_at', 'is not', null), eb('slot_held', '!=', 0)]))
      .execute();
  }
}
