import type { Db } from '../db/connection.js';
import { dbTime } from '../db/dbClock.js';
import { lockTeamSlots } from '../db/repos/runs.js';

export type SlotOutcome = 'granted' | 'stopped' | 'lost';

interface Waiter {
  runId: string;
  resuming: boolean;
  wake: () => void;
}

export interface RunSlotsDeps {
  db: Db;
  /** This instance: only a run whose lease it holds can take a slot. */
  owner: string;
  limit: () => number;
  /** A run just joined its workspace's queue (its task message shows "queued (position k)"). */
  onQueued: (runId: string) => void;
}

/**
 * At most N runs of a workspace call the model at once, across every instance: a slot is a flag on the
 * run (`slot_held`), counted while the run's lease is alive, so a dead instance's slots free themselves
 * when its leases expire. Runs waiting for a slot are ordered in the database (`queued_at`; runs resuming
 * after an approval ahead of runs that have not started), so the queue and the positions shown are the
 * workspace's, not one process's. A waiter here tries again when a slot of its workspace is released in
 * this process, and at every sweep for slots released elsewhere.
 */
export class RunSlots {
  private readonly waiting = new Map<string, Waiter[]>();
  /** Workspaces whose first waiter was woken and has not looked yet. */
  private readonly poking = new Set<string>();
  /** Pokes that arrived while that look was under way: it may have read the state before the change. */
  private readonly pokedAgain = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: RunSlotsDeps) {}

  /** `resuming`: a run that already took turns (resuming after an approval) waits ahead of new runs. */
  async acquire(teamId: string, runId: string, resuming: boolean): Promise<SlotOutcome> {
    try {
      for (;;) {
        if (this.stopped) return this.leave(teamId, runId, 'stopped');
        const attempt = await this.attempt(teamId, runId, resuming);
        if (attempt !== 'waiting' && attempt !== 'joined') return this.leave(teamId, runId, attempt);
        if (attempt === 'joined') this.deps.onQueued(runId);
        await new Promise<void>((wake) => this.enqueue(teamId, { runId, resuming, wake }));
      }
    } catch (err) {
      this.leave(teamId, runId, 'stopped');
      throw err;
    }
  }

  async release(teamId: string, runId: string): Promise<void> {
    await this.deps.db.updateTable('runs').set({ slot_held: 0 }).where('id', '=', runId).where('lease_owner', '=', this.deps.owner).execute();
    this.poke(teamId);
  }

  /** The run's place in its workspace's queue, or undefined when it is not waiting. */
  async position(teamId: string, runId: string): Promise<number | undefined> {
    const run = await this.deps.db.selectFrom('runs').select(['status', 'slot_held', 'queued_at', 'turns']).where('id', '=', runId).executeTakeFirst();
    if (!run || run.status !== 'running' || run.slot_held !== 0 || !run.queued_at) return undefined;
    return (await this.ahead(this.deps.db, teamId, runId, run.queued_at, run.turns > 0)) + 1;
  }

  /** Lets the first waiter of a workspace (every workspace without an argument) try again. */
  poke(teamId?: string): void {
    const teams = teamId ? [teamId] : [...this.waiting.keys()];
    for (const t of teams) {
      if (this.poking.has(t)) {
        this.pokedAgain.add(t);
        continue;
      }
      const head = this.waiting.get(t)?.[0];
      if (head) {
        this.poking.add(t);
        head.wake();
      }
    }
  }

  /** Shutdown: every waiter gives up (its run is handed over with its place in the queue). */
  drain(): void {
    this.stopped = true;
    for (const queue of this.waiting.values()) for (const w of queue) w.wake();
  }

  private enqueue(teamId: string, w: Waiter): void {
    this.poking.delete(teamId);
    const queue = this.waiting.get(teamId) ?? [];
    const i = queue.findIndex((x) => x.runId === w.runId);
    if (i >= 0) queue[i] = w;
    else if (w.resuming) {
      const firstNew = queue.findIndex((x) => !x.resuming);
      queue.splice(firstNew < 0 ? queue.length : firstNew, 0, w);
    } else queue.push(w);
    this.waiting.set(teamId, queue);
    if (this.stopped) w.wake();
    else if (this.pokedAgain.delete(teamId)) this.poke(teamId);
  }

  private leave(teamId: string, runId: string, outcome: SlotOutcome): SlotOutcome {
    const queue = this.waiting.get(teamId);
    if (queue) {
      const rest = queue.filter((w) => w.runId !== runId);
      if (rest.length > 0) this.waiting.set(teamId, rest);
      else this.waiting.delete(teamId);
    }
    this.poking.delete(teamId);
    // The next waiter of the workspace may fit too (several slots freed at once).
    if (this.pokedAgain.delete(teamId) || outcome === 'granted') this.poke(teamId);
    return outcome;
  }

  /** One try, in a transaction that takes turns with every other instance's tries for this workspace. */
  private attempt(teamId: string, runId: string, resuming: boolean): Promise<'granted' | 'lost' | 'joined' | 'waiting'> {
    const { db, owner } = this.deps;
    return db.transaction().execute(async (trx) => {
      await lockTeamSlots(trx, teamId);
      const me = await trx.selectFrom('runs').select(['lease_owner', 'slot_held', 'queued_at']).where('id', '=', runId).executeTakeFirst();
      if (!me || me.lease_owner !== owner) return 'lost';
      if (me.slot_held === 1) return 'granted';
      const now = dbTime(trx);
      const used = await trx
        .selectFrom('runs')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('team_id', '=', teamId)
        .where('slot_held', '=', 1)
        .where('lease_expires_at', '>', now)
        .where('id', '!=', runId)
        .executeTakeFirst();
      const ahead = await this.ahead(trx, teamId, runId, me.queued_at, resuming);
      if (Number(used?.n ?? 0) + ahead < this.deps.limit()) {
        await trx.updateTable('runs').set({ slot_held: 1, queued_at: null }).where('id', '=', runId).execute();
        return 'granted';
      }
      if (me.queued_at) return 'waiting';
      await trx.updateTable('runs').set({ queued_at: now }).where('id', '=', runId).execute();
      return 'joined';
    });
  }

  /**
   * Runs of the workspace waiting ahead of this one: resuming runs before new ones, then by arrival.
   * Only waiters whose instance is alive count; a dead instance's waiters get their place back when
   * another instance takes their lease over (queued_at is kept).
   */
  private async ahead(db: Db, teamId: string, runId: string, queuedAt: string | null, resuming: boolean): Promise<number> {
    const row = await db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('team_id', '=', teamId)
      .where('status', '=', 'running')
      .where('slot_held', '=', 0)
      .where('queued_at', 'is not', null)
      .where('lease_expires_at', '>', dbTime(db))
      .where('id', '!=', runId)
      .where((eb) => {
        // Not queued yet: everyone waiting is ahead (of a resuming run: the other resuming runs).
        if (!queuedAt) return resuming ? eb('turns', '>', 0) : eb('id', '!=', runId);
        const earlier = eb.or([eb('queued_at', '<', queuedAt), eb.and([eb('queued_at', '=', queuedAt), eb('id', '<', runId)])]);
        return resuming ? eb.and([eb('turns', '>', 0), earlier]) : eb.or([eb('turns', '>', 0), earlier]);
      })
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
