import type { Db } from '../connection.js';
import type { SlackInstallationRow } from '../schema.js';

export async function getInstallationRow(db: Db, teamId: string): Promise<SlackInstallationRow | undefined> {
  return db.selectFrom('slack_installations').selectAll().where('team_id', '=', teamId).executeTakeFirst();
}

/** Insert, or replace a reinstalled workspace's row; `installed_at` is kept when only tokens were refreshed. */
export async function upsertInstallationRow(db: Db, row: SlackInstallationRow, opts: { refresh: boolean }): Promise<void> {
  const { team_id: _team, installed_at: installedAt, ...rest } = row;
  await db
    .insertInto('slack_installations')
    .values(row)
    .onConflict((oc) => oc.column('team_id').doUpdateSet(opts.refresh ? rest : { ...rest, installed_at: installedAt }))
    .execute();
}

/**
 * Deletes a workspace's installation, unless it was installed at or after `before` (the uninstall event is
 * older than a reinstall: Slack redelivers events, and a late one must not delete the new tokens).
 */
export async function deleteInstallationRow(db: Db, teamId: string, before?: string): Promise<boolean> {
  let q = db.deleteFrom('slack_installations').where('team_id', '=', teamId);
  if (before) q = q.where('installed_at', '<', before);
  const res = await q.executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
