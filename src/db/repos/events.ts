import type { Db } from '../connection.js';

/**
 * Claims keys in `processed_events` (Slack event ids, message identities): true when every key was new.
 * Inside the transaction that acts on the event, a duplicate delivery (Slack's retries, a second
 * subscription, a redelivery after a restart) finds its key taken and changes nothing. On Postgres a
 * concurrent claim of the same key waits for the first transaction and then finds it taken.
 */
export async function claimEventKeys(db: Db, keys: string[], at: string): Promise<boolean> {
  let fresh = true;
  for (const key of keys) {
    const res = await db.insertInto('processed_events').values({ key, at }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0n) !== 1) fresh = false;
  }
  return fresh;
}

export async function isEventProcessed(db: Db, key: string): Promise<boolean> {
  return (await db.selectFrom('processed_events').select('key').where('key', '=', key).executeTakeFirst()) !== undefined;
}
