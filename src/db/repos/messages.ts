import { z } from 'zod';
import type { Db } from '../connection.js';
import { parseStoredJson } from '../json.js';
import type { RunMessage } from '../schema.js';

/**
 * Content blocks are stored verbatim (thinking blocks and their signatures included): the API rejects a
 * replayed conversation whose earlier blocks changed, so nothing here may normalise them.
 */
export const storedBlockSchema = z.looseObject({ type: z.string() });
export const storedContentSchema = z.array(storedBlockSchema);
export type StoredBlock = z.infer<typeof storedBlockSchema>;

export interface ConversationMessage {
  seq: number;
  role: 'user' | 'assistant';
  content: StoredBlock[];
  stopReason: string | null;
}

export function toConversationMessage(row: RunMessage): ConversationMessage {
  return {
    seq: row.seq,
    role: row.role,
    content: parseStoredJson(storedContentSchema, row.content_json, `message ${row.run_id}#${row.seq}`),
    stopReason: row.stop_reason,
  };
}

export async function listMessages(db: Db, runId: string): Promise<ConversationMessage[]> {
  const rows = await db.selectFrom('run_messages').selectAll().where('run_id', '=', runId).orderBy('seq').execute();
  return rows.map(toConversationMessage);
}

/** The run's latest message only: what a step needs unless it calls the model. */
export async function lastMessage(db: Db, runId: string): Promise<ConversationMessage | undefined> {
  const row = await db.selectFrom('run_messages').selectAll().where('run_id', '=', runId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? toConversationMessage(row) : undefined;
}

/** The seq of the run's latest message (-1: none). */
export async function lastSeq(db: Db, runId: string): Promise<number> {
  const row = await db
    .selectFrom('run_messages')
    .select((eb) => eb.fn.max<number | null>('seq').as('seq'))
    .where('run_id', '=', runId)
    .executeTakeFirst();
  return row?.seq ?? -1;
}

/** Appends the next message; callers run it inside the transaction that also records its effects. */
export async function appendMessage(
  db: Db,
  /** `seq`: the caller has just read the latest seq in this transaction and passes the next one. */
  msg: { runId: string; role: 'user' | 'assistant'; content: unknown[]; stopReason?: string | null; at: string; seq?: number },
): Promise<number> {
  const seq = msg.seq ?? (await lastSeq(db, msg.runId)) + 1;
  await db
    .insertInto('run_messages')
    .values({
      run_id: msg.runId,
      seq,
      role: msg.role,
      content_json: JSON.stringify(msg.content),
      stop_reason: msg.stopReason ?? null,
      created_at: msg.at,
    })
    .execute();
  return seq;
}
