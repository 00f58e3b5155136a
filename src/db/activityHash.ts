import { createHash } from 'node:crypto';

/** The "previous hash" of a workspace's first activity row. */
export const ACTIVITY_GENESIS = '0'.repeat(64);

/** The fields of an activity row that its hash covers, exactly as stored. */
export interface ChainedFields {
  seq: number;
  team_id: string;
  at: string;
  run_id: string | null;
  action_id: string | null;
  actor: string;
  kind: string;
  detail_json: string;
}

/**
 * Version 1 of the canonical form, frozen (db/migrations/0011 holds a copy): a JSON array, so there are
 * no keys to order, of the stored strings as they are (timestamps as stored text, the detail as its stored
 * JSON text), which both SQLite and PostgreSQL hand back byte for byte. The id is left out on purpose:
 * it is the database's, and `seq` is the row's place in the chain.
 */
export function canonicalActivity(row: ChainedFields, previousHash: string): string {
  return JSON.stringify(['activity-v1', row.seq, row.team_id, row.at, row.run_id, row.action_id, row.actor, row.kind, row.detail_json, previousHash]);
}

export function activityHash(row: ChainedFields, previousHash: string): string {
  return createHash('sha256').update(canonicalActivity(row, previousHash), 'utf8').digest('hex');
}

const NUL = /\u0000/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * What a string column will read back as on both engines: Postgres text cannot hold NUL (stored as
 * U+FFFD, see db/postgres.ts) and neither engine keeps a lone surrogate (UTF-8 has none). Values are
 * stored in this form, so the hash computed at append time is the one a verifier recomputes.
 */
export function storable(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD').replace(NUL, '\uFFFD');
}
