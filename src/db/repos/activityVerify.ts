import { ACTIVITY_GENESIS, activityHash } from '../activityHash.js';
import type { Db } from '../connection.js';

/** Stable codes of what can be wrong with a workspace's chain (printed by `export-audit --verify`). */
export type ChainProblem = 'hash_mismatch' | 'missing_rows' | 'duplicate_seq' | 'unchained_row' | 'head_missing' | 'head_mismatch';

export interface ChainBreak {
  teamId: string;
  /** The row where the chain stops holding (null when the rows in question are gone). */
  rowId: number | null;
  seq: number | null;
  problem: ChainProblem;
  message: string;
}

export interface TeamChain {
  teamId: string;
  rows: number;
  headSeq: number;
  headHash: string;
  /** The first place the chain breaks, if it does. */
  broken?: ChainBreak;
}

export interface ChainReport {
  ok: boolean;
  rows: number;
  teams: TeamChain[];
}

const PAGE = 1000;

/**
 * Recomputes every workspace's chain from the stored rows, in chain order: each row must sit at the next
 * position and hash to its stored hash given the previous row's, no row may be outside the chain, and the
 * last row must be the recorded head (so rows deleted from the end show too). Read-only.
 */
export async function verifyActivityChain(db: Db, opts: { teamId?: string } = {}): Promise<ChainReport> {
  let teamsQ = db.selectFrom('activity').select('team_id').distinct();
  let headsQ = db.selectFrom('activity_chain').select('team_id');
  if (opts.teamId) {
    teamsQ = teamsQ.where('team_id', '=', opts.teamId);
    headsQ = headsQ.where('team_id', '=', opts.teamId);
  }
  const teamIds = new Set([...(await teamsQ.execute()), ...(await headsQ.execute())].map((r) => r.team_id));
  const teams: TeamChain[] = [];
  for (const teamId of [...teamIds].sort()) teams.push(await verifyTeam(db, teamId));
  return { ok: teams.every((t) => !t.broken), rows: teams.reduce((n, t) => n + t.rows, 0), teams };
}

async function verifyTeam(db: Db, teamId: string): Promise<TeamChain> {
  let prev = { seq: 0, hash: ACTIVITY_GENESIS, id: null as number | null };
  let rows = 0;
  const result = (broken?: ChainBreak): TeamChain => ({ teamId, rows, headSeq: prev.seq, headHash: prev.hash, ...(broken ? { broken } : {}) });
  const brk = (rowId: number | null, seq: number | null, problem: ChainProblem, message: string) => result({ teamId, rowId, seq, problem, message });

  for (;;) {
    let q = db.selectFrom('activity').selectAll().where('team_id', '=', teamId).where('seq', 'is not', null);
    const after = prev;
    if (after.id !== null) q = q.where((eb) => eb.or([eb('seq', '>', after.seq), eb.and([eb('seq', '=', after.seq), eb('id', '>', after.id!)])]));
    const page = await q.orderBy('seq').orderBy('id').limit(PAGE).execute();
    for (const row of page) {
      const seq = row.seq!;
      if (seq <= prev.seq) {
        return brk(row.id, seq, 'duplicate_seq', `position ${seq} is taken twice (rows ${prev.id} and ${row.id}): a copied or forged row`);
      }
      if (seq > prev.seq + 1) {
        const gap = seq === prev.seq + 2 ? `position ${prev.seq + 1} is` : `positions ${prev.seq + 1} to ${seq - 1} are`;
        return brk(row.id, seq, 'missing_rows', `${gap} missing before this row: deleted rows`);
      }
      const expected = activityHash({ ...row, seq }, prev.hash);
      if (row.hash !== expected) {
        return brk(row.id, seq, 'hash_mismatch', `its hash does not match its contents and the previous row's hash: the row was changed (or the row before it was rewritten together with its hash)`);
      }
      rows++;
      prev = { seq, hash: expected, id: row.id };
    }
    if (page.length < PAGE) break;
  }

  const unchained = await db.selectFrom('activity').select('id').where('team_id', '=', teamId).where('seq', 'is', null).orderBy('id').executeTakeFirst();
  if (unchained) return brk(unchained.id, null, 'unchained_row', 'the row has no place in the chain: written around the app (a forged row) or its chain fields were erased');

  const head = await db.selectFrom('activity_chain').select(['seq', 'hash']).where('team_id', '=', teamId).executeTakeFirst();
  if (!head) return rows === 0 ? result() : brk(prev.id, prev.seq, 'head_missing', 'the chain head of this workspace is missing: it was deleted');
  if (head.seq > prev.seq) {
    const gap = head.seq === prev.seq + 1 ? `position ${head.seq} is` : `positions ${prev.seq + 1} to ${head.seq} are`;
    return brk(prev.id, prev.seq, 'missing_rows', `${gap} missing after this row: the last rows were deleted`);
  }
  if (head.seq !== prev.seq || head.hash !== prev.hash) {
    return brk(prev.id, prev.seq, 'head_mismatch', `the recorded head (position ${head.seq}) does not match the last row: the head or the rows were rewritten`);
  }
  return result();
}
