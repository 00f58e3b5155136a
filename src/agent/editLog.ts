import { z } from 'zod';
import type { Db } from '../db/connection.js';
import { parseStoredJson } from '../db/json.js';
import type { FieldChange } from './edits.js';

const editDetail = z.object({ changes: z.array(z.object({ field: z.string(), before: z.string(), after: z.string() })) });

export interface StoredEdit {
  by: string;
  at: string;
  changes: FieldChange[];
}

/** The human edits of these actions, from the activity log (where both versions of each call are kept). */
export async function editsOf(db: Db, actionIds: string[]): Promise<Map<string, StoredEdit>> {
  const out = new Map<string, StoredEdit>();
  if (actionIds.length === 0) return out;
  const rows = await db.selectFrom('activity').select(['action_id', 'actor', 'at', 'detail_json']).where('kind', '=', 'action_edited').where('action_id', 'in', actionIds).orderBy('id').execute();
  for (const r of rows) {
    if (!r.action_id) continue;
    out.set(r.action_id, { by: r.actor, at: r.at, changes: parseStoredJson(editDetail, r.detail_json, 'edit of an action').changes });
  }
  return out;
}
