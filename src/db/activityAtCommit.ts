import type { Db } from './connection.js';

/**
 * Activity rows appended inside a transaction are written at the END of that transaction, just before it
 * commits. Why: appending takes the workspace's activity-chain head, a lock held until commit. Taken in
 * the middle of a transaction, it could be held while waiting for a run or an outbox row that another
 * transaction holds while itself waiting for the head (a deadlock on PostgreSQL, which aborts one side,
 * e.g. the one recording a sent email). Taken last, the head is only ever held by a transaction that waits
 * for nothing else, so it cannot be part of a cycle, and it is held for as short a time as possible.
 */
type Flush = (trx: Db, entries: readonly unknown[]) => Promise<void>;

const pending = new WeakMap<object, unknown[]>();

/** Buffers `entries` when `trx` is a transaction opened through a database prepared below; else false. */
export function deferToCommit(trx: Db, entries: readonly unknown[]): boolean {
  const list = pending.get(trx);
  if (!list) return false;
  list.push(...entries);
  return true;
}

/**
 * Makes every `db.transaction()...execute(fn)` run `fn`, then `flush` the activity it appended, inside the
 * same transaction. Kysely keeps its state in private fields, so the builder's methods are called on the
 * builder itself, never through the proxy.
 */
export function writeActivityAtCommit(db: Db, flush: Flush): Db {
  const original = db.transaction.bind(db);
  const wrap = <B extends object>(builder: B): B =>
    new Proxy(builder, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'execute' && typeof value === 'function') {
          return <T>(fn: (trx: Db) => Promise<T>): Promise<T> =>
            (value as (cb: (trx: Db) => Promise<T>) => Promise<T>).call(target, async (trx: Db) => {
              const list: unknown[] = [];
              pending.set(trx, list);
              try {
                const result = await fn(trx);
                pending.delete(trx);
                if (list.length) await flush(trx, list);
                return result;
              } finally {
                pending.delete(trx);
              }
            });
        }
        if (typeof value !== 'function') return value;
        // setIsolationLevel() and friends return a new builder: keep it wrapped.
        return (...args: unknown[]) => {
          const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return out && typeof out === 'object' && typeof (out as { execute?: unknown }).execute === 'function' ? wrap(out) : out;
        };
      },
    });
  db.transaction = () => wrap(original());
  return db;
}
