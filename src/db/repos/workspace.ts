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

/** Workspace settings kept in settings_json; parsed with defaults so old rows keep working. */
export const workspaceSettingsSchema = z.object({
  /** 'thread', or a channel id for approval cards. Unset: APPROVALS_CHANNEL, else the thread. */
  route: z.string().optional(),
  /** Whether the requester may approve their own run's actions. */
  selfApproval: z.boolean().default(true),
  /** Daily digest of pending approvals: hour (0-23) and IANA time zone. */
  digestHour: z.number().int().min(0).max(23).default(9),
  digestTimezone: z.string().optional(),
  /** The Enterprise Grid organisation the workspace belongs to (learned from its slash commands). */
  enterpriseId: z.string().optional(),
  /**
   * What a reply in a task thread from someone other than the requester does: nothing (`ignore`), or it
   * reaches the run as context labelled untrusted (`context`). Never an instruction either way.
   */
  othersReplies: z.enum(['ignore', 'context']).default('ignore'),
  /** Action types whose cards mention nobody (e.g. a busy approvals channel where everyone watches). */
  quietCards: z.array(z.string()).default([]),
  /** Whether a card posted in a task thread is also shown in the channel (Slack's reply_broadcast). */
  announceCards: z.boolean().default(true),
});
export type WorkspaceSettings = z.infer<typeof workspaceSettingsSchema>;

export function settingsOf(w: WorkspaceView): WorkspaceSettings {
  const parsed = workspaceSettingsSchema.safeParse(w.settings);
  return parsed.success ? parsed.data : workspaceSettingsSchema.parse({});
}

export async function saveSettings(db: Db, teamId: string, patch: Partial<WorkspaceSettings>, at: string): Promise<WorkspaceSettings> {
  await ensureWorkspace(db, teamId, at);
  const current = settingsOf(await getWorkspace(db, teamId));
  const next = { ...current, ...patch };
  await db.updateTable('workspace_state').set({ settings_json: JSON.stringify(next), updated_at: at }).where('team_id', '=', teamId).execute();
  return next;
}

/**
 * Turns a workspace switch (pause, kill switch) on or off with who/why/when. Conditional on the current
 * value, so the caller learns whether it changed anything (and logs only real changes).
 */
async function setSwitch(
  db: Db,
  teamId: string,
  name: 'paused' | 'disabled',
  on: { by: string; reason: string | null } | null,
  at: string,
): Promise<boolean> {
  await ensureWorkspace(db, teamId, at);
  const res = await db
    .updateTable('workspace_state')
    .set({
      [name]: on ? 1 : 0,
      [`${name}_by`]: on?.by ?? null,
      [`${name}_reason`]: on?.reason ?? null,
      [`${name}_at`]: on ? at : null,
      updated_at: at,
    })
    .where('team_id', '=', teamId)
    .where(name, '=', on ? 0 : 1)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export const setPaused = (db: Db, teamId: string, paused: { by: string; reason: string | null } | null, at: string) => setSwitch(db, teamId, 'paused', paused, at);
export const setDisabled = (db: Db, teamId: string, disabled: { by: string; reason: string | null } | null, at: string) => setSwitch(db, teamId, 'disabled', disabled, at);

export async function listTeamIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('runs').select('team_id').distinct().execute();
  return rows.map((r) => r.team_id);
}
