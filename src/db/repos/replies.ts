import type { Db } from '../connection.js';
import type { ReplyKind, RunReply } from '../schema.js';

export interface NewReply {
  runId: string;
  teamId: string;
  authorId: string;
  kind: ReplyKind;
  text: string;
  channelId: string;
  messageTs: string;
  at: string;
}

/** Stores a reply that waits for the run's next model turn. Callers run it in the transaction that claims the event. */
export async function insertReply(db: Db, r: NewReply): Promise<void> {
  await db
    .insertInto('run_replies')
    .values({
      run_id: r.runId,
      team_id: r.teamId,
      author_id: r.authorId,
      kind: r.kind,
      text: r.text,
      channel_id: r.channelId,
      message_ts: r.messageTs,
      taken_seq: null,
      created_at: r.at,
      taken_at: null,
    })
    .execute();
}

export async function listPendingReplies(db: Db, runId: string): Promise<RunReply[]> {
  return db.selectFrom('run_replies').selectAll().where('run_id', '=', runId).where('taken_seq', 'is', null).orderBy('id').execute();
}

export async function hasPendingReplies(db: Db, runId: string, kind?: ReplyKind): Promise<boolean> {
  let q = db.selectFrom('run_replies').select('id').where('run_id', '=', runId).where('taken_seq', 'is', null);
  if (kind) q = q.where('kind', '=', kind);
  return (await q.executeTakeFirst()) !== undefined;
}

/** Marks replies as carried by conversation message `seq`; only those still pending (exactly once). */
export async function markRepliesTaken(db: Db, ids: number[], seq: number, at: string): Promise<number> {
  if (ids.length === 0) return 0;
  const res = await db.updateTable('run_replies').set({ taken_seq: seq, taken_at: at }).where('id', 'in', ids).where('taken_seq', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows);
}
