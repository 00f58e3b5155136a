import { z } from 'zod';
import type { Db } from '../connection.js';
import { parseStoredJson } from '../json.js';
import type { TrustMode, WorkspaceState } from '../schema.js';

export interface WorkspaceView {
  teamId: string;
  paused: boolean;
  pausedReason: string | null;
  pausedBy: string | null;
  disabled: boolean;
  disabledReason: string | null;
  disabledBy: string | null;
  caps: Record<string, number>;
  settings: Record<string, unknown>;
}

const capsSchema = z.record(z.string(), z.number());
const settingsSchema = z.record(z.string(), z.unknown());

export function toWorkspaceView(teamId: string, row: WorkspaceState | undefined): WorkspaceView {
  return {
    teamId,
    paused: row?.paused === 1,
    pausedReason: row?.paused_reason ?? null,
    pausedBy: row?.paused_by ?? null,
    disabled: row?.disabled === 1,
    disabledReason: row?.disabled_reason ?? null,
    disabledBy: row?.disabled_by ?? null,
    caps: row ? parseStoredJson(capsSchema, row.caps_json, 'workspace caps') : {},
    settings: row ? parseStoredJson(settingsSchema, row.settings_json, 'workspace settings') : {},
  };
}

export async function getWorkspace(db: Db, teamId: string): Promise<WorkspaceView> {
  const row = await db.selectFrom('workspace_state').selectAll().where('team_id', '=', teamId).executeTakeFirst();
  return toWorkspaceView(teamId, row);
}

/** Ensures a row exists so later conditional updates have something to update. */
export async function ensureWorkspace(db: Db, teamId: string, at: string): Promise<void> {
  await db
    .insertInto('workspace_state')
    .values({ team_id: teamId, paused: 0, disabled: 0, caps_json: '{}', settings_json: '{}', updated_at: at })
    .onConflict((oc) => oc.column('team_id').doNothing())
    .execute();
}

export async function getTrustModes(db: Db, teamId: string): Promise<Map<string, TrustMode>> {
  const rows = await db
    .selectFrom('trust_settings')
    .select(['action_type', 'mode'])
    .where('team_id', '=', teamId)
    .execute();
  const out = new Map<string, TrustMode>();
  for (const r of rows) if (r.mode) out.set(r.action_type, r.mode);
  return out;
}
