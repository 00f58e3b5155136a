import type { Db } from '../connection.js';
import type { ActivityRow } from '../schema.js';

/** Who did it: a Slack user id, or the agent / the system itself. */
export type Actor = string | 'agent' | 'system';

export interface ActivityEntry {
  at: string;
  teamId: string;
  runId?: string | null;
  actionId?: string | null;
  actor: Actor;
  kind: string;
  detail?: Record<string, unknown>;
}

/** The activity log is append-only: there is deliberately no update or delete here. */
export async function appendActivity(db: Db, entry: ActivityEntry): Promise<void> {
  await db
    .insertInto('activity')
    .values({
      at: entry.at,
      team_id: entry.teamId,
      run_id: entry.runId ?? null,
      action_id: entry.actionId ?? null,
      actor: entry.actor,
      kind: entry.kind,
      detail_json: JSON.stringify(entry.detail ?? {}),
    })
    .execute();
}

export async function listRunActivity(db: Db, runId: string): Promise<ActivityRow[]> {
  return db.selectFrom('activity').selectAll().where('run_id', '=', runId).orderBy('id').execute();
}
