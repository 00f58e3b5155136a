import { hostname } from 'node:os';
import type { Db } from '../db/connection.js';
import { dbTime } from '../db/dbClock.js';
import { randomToken } from '../ids.js';

/** Rows of instances gone this long are deleted (they only matter while their claims may be in flight). */
const PRUNE_AFTER_MS = 24 * 3600_000;

/**
 * This process among those sharing the database. Its row says until when it is presumed alive; the
 * heartbeat pushes that forward. Another instance treats what this one had claimed (Slack messages being
 * sent) as interrupted only once the row has expired, so a restart of one instance never disturbs
 * another's work in flight.
 */
export class InstanceRegistry {
  readonly id = `i-${randomToken(10)}`;
  private live = 1;

  constructor(
    private readonly db: Db,
    private readonly leaseMs: number,
  ) {}

  /**
   * `exclusive` (SQLite, one instance by design): every other instance row is a previous process that
   * stopped or died, so it is forgotten at once instead of waiting for its heartbeat to expire.
   */
  async register(opts: { exclusive: boolean }): Promise<void> {
    const { db } = this;
    if (opts.exclusive) await db.deleteFrom('instances').where('id', '!=', this.id).execute();
    await db
      .insertInto('instances')
      .values({ id: this.id, host: hostname(), pid: process.pid, started_at: dbTime(db), heartbeat_at: dbTime(db), expires_at: dbTime(db, this.leaseMs), draining: 0 })
      .execute();
    await this.refreshLiveCount();
  }

  /** Pushes this instance's expiry forward; re-registers if its row was removed meanwhile. */
  async heartbeat(): Promise<void> {
    const { db } = this;
    const res = await db.updateTable('instances').set({ heartbeat_at: dbTime(db), expires_at: dbTime(db, this.leaseMs) }).where('id', '=', this.id).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) await this.register({ exclusive: false });
    else await this.refreshLiveCount();
  }

  /** Instances alive and not draining (including this one): they share Slack's rate limits. */
  liveCount(): number {
    return this.live;
  }

  private async refreshLiveCount(): Promise<void> {
    const row = await this.db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('expires_at', '>=', dbTime(this.db))
      .where('draining', '=', 0)
      .executeTakeFirst();
    this.live = Math.max(1, Number(row?.n ?? 1));
  }

  async markDraining(): Promise<void> {
    await this.db.updateTable('instances').set({ draining: 1 }).where('id', '=', this.id).execute();
  }

  /** Clean shutdown: nothing of this instance is in flight any more. */
  async retire(): Promise<void> {
    await this.db.deleteFrom('instances').where('id', '=', this.id).execute();
  }

  async prune(): Promise<void> {
    await this.db.deleteFrom('instances').where('expires_at', '<', dbTime(this.db, -PRUNE_AFTER_MS)).execute();
  }
}
