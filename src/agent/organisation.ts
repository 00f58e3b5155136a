import type { Db } from '../db/connection.js';
import { getWorkspace, saveSettings, settingsOf } from '../db/repos/workspace.js';

/**
 * Only the run's own organisation decides. In a channel shared with another company (Slack Connect),
 * that company's people see the cards and can click them; a click says whose user it is in
 * `user.team_id`: the workspace id (T…), or on Enterprise Grid the organisation id (E…). The channel a
 * click comes from proves nothing, so the check is on that id.
 */
export interface Clicker {
  userId: string;
  /** `user.team_id` of the click or dialog; null when Slack did not send it. */
  orgId: string | null;
}

/** Remembers which Enterprise Grid organisation a workspace belongs to (slash commands carry it). */
export async function rememberEnterprise(db: Db, teamId: string, enterpriseId: string | undefined, at: string): Promise<void> {
  if (!enterpriseId || !/^E[A-Z0-9]+$/.test(enterpriseId)) return;
  if (settingsOf(await getWorkspace(db, teamId)).enterpriseId === enterpriseId) return;
  await saveSettings(db, teamId, { enterpriseId }, at);
}

/** Why this person may not decide on a run of `teamId`, or undefined when they belong to it. */
export async function organisationRefusal(db: Db, teamId: string, clicker: Clicker): Promise<string | undefined> {
  if (!clicker.orgId) return 'Slack did not say which organisation you belong to, so this cannot be decided from your click.';
  if (clicker.orgId === teamId) return undefined;
  const enterpriseId = settingsOf(await getWorkspace(db, teamId)).enterpriseId;
  if (enterpriseId && clicker.orgId === enterpriseId) return undefined;
  return 'Only people of the workspace that started this run can decide on it; your account belongs to another organisation.';
}
