import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { transitionAction } from '../db/repos/actions.js';
import { appendActivity } from '../db/repos/activity.js';
import { lockRun, transitionRun } from '../db/repos/runs.js';
import type { Run, RunStatus } from '../db/schema.js';
import type { Outbox } from './outbox.js';

/** The installation side of a workspace leaving (OAuth mode); single-token mode has nothing stored. */
export interface WorkspaceInstallations {
  /** When the workspace's current installation was made (ISO), or undefined. */
  installedAt(teamId: string): Promise<string | undefined>;
  /** Deletes the workspace's tokens unless it was (re)installed at or after `before` (ISO). */
  remove(teamId: string, before: string): Promise<boolean>;
  /** Deletes revoked user tokens; the bot token stays. */
  removeUserTokens(teamId: string, userIds: readonly string[]): Promise<boolean>;
  /** Drops cached clients of the workspace. */
  forget(teamId: string): void;
}

export type RemovalReason = 'app_uninstalled' | 'tokens_revoked';

export interface RemovalResult {
  /** The event is older than the workspace's current installation (a late redelivery): nothing was done. */
  stale: boolean;
  runsStopped: string[];
  schedulesPaused: number;
  tokensDeleted: boolean;
}

const ACTIVE: readonly RunStatus[] = ['running', 'awaiting_approval'];

const WHY: Record<RemovalReason, string> = {
  app_uninstalled: 'The app was uninstalled from this workspace, so this run stopped. Nothing further will be done.',
  tokens_revoked: "The app's access to this workspace was revoked, so this run stopped. Nothing further will be done.",
};

/**
 * A workspace removed the app (`app_uninstalled`) or revoked its bot token (`tokens_revoked`): its runs stop
 * (their open approvals are closed, so nothing can be approved or dispatched any more), its schedules
 * pause, the Slack messages still queued for it are dropped (Slack has already revoked the token, so they
 * could never be delivered) and its tokens are deleted. Safe to repeat: Slack redelivers events.
 */
export class WorkspaceRemoval {
  constructor(
    private readonly deps: { db: Db; clock: Clock; logger: Logger; installations: WorkspaceInstallations; outbox: Outbox },
  ) {}

  async remove(teamId: string, reason: RemovalReason, eventAt: Date): Promise<RemovalResult> {
    const { db, clock, logger, installations } = this.deps;
    // Slack's event_time has whole seconds: only an installation from a later second is newer than the event.
    const newerFrom = new Date(Math.floor(eventAt.getTime() / 1000) * 1000 + 1000).toISOString();
    const installedAt = await installations.installedAt(teamId);
    if (installedAt && installedAt >= newerFrom) {
      logger.info({ teamId, reason, installedAt, eventAt: eventAt.toISOString() }, 'ignoring a removal event older than the current installation');
      return { stale: true, runsStopped: [], schedulesPaused: 0, tokensDeleted: false };
    }
    const at = clock.now().toISOString();
    const message = WHY[reason];
    const runsStopped: string[] = [];
    const active = await db.selectFrom('runs').select('id').where('team_id', '=', teamId).where('status', 'in', [...ACTIVE]).execute();
    for (const { id } of active) {
      const stopped = await db.transaction().execute(async (trx) => {
        await lockRun(trx, id);
        if (!(await transitionRun(trx, id, ACTIVE, { status: 'stopped', error_code: reason, error_message: message, finished_at: at, updated_at: at }))) return false;
        const open = await trx.selectFrom('actions').select('id').where('run_id', '=', id).where('status', 'in', ['pending', 'approved']).execute();
        for (const a of open) {
          await transitionAction(trx, a.id, ['pending', 'approved'], {
            status: 'cancelled',
            decision_note: `The run stopped: ${message}`,
            result_json: JSON.stringify({ content: 'Not run: the app was removed from the workspace.', is_error: true }),
            updated_at: at,
          });
        }
        await appendActivity(trx, { at, teamId, runId: id, actor: 'system', kind: 'run_stopped', detail: { code: reason, message, cancelledActions: open.map((a) => a.id) } });
        return true;
      });
      if (stopped) runsStopped.push(id);
    }
    const { schedulesPaused, messagesDropped } = await db.transaction().execute(async (trx) => {
      // A schedule firing in a workspace the app cannot post in would only start runs that fail.
      const paused = await trx.updateTable('schedules').set({ status: 'paused', updated_at: at }).where('team_id', '=', teamId).where('status', '=', 'active').executeTakeFirst();
      const dropped = await trx
        .updateTable('slack_outbox')
        .set({ status: 'superseded', error: `not delivered: ${reason}`, claimed_by: null, updated_at: at })
        .where('team_id', '=', teamId)
        .where('status', 'in', ['queued', 'unknown'])
        .executeTakeFirst();
      // Who had the Home tab open there is forgotten with the workspace.
      await trx.deleteFrom('home_viewers').where('team_id', '=', teamId).execute();
      return { schedulesPaused: Number(paused.numUpdatedRows), messagesDropped: Number(dropped.numUpdatedRows) };
    });
    const tokensDeleted = await installations.remove(teamId, newerFrom);
    installations.forget(teamId);
    // A redelivered event finds nothing left to do and leaves no second entry.
    if (runsStopped.length > 0 || schedulesPaused > 0 || messagesDropped > 0 || tokensDeleted) {
      await appendActivity(db, { at, teamId, actor: 'system', kind: reason, detail: { runsStopped, schedulesPaused, messagesDropped, tokensDeleted } });
    }
    logger.info({ teamId, reason, runsStopped: runsStopped.length, schedulesPaused, messagesDropped, tokensDeleted }, 'workspace removed the app');
    return { stale: false, runsStopped, schedulesPaused, tokensDeleted };
  }

  /**
   * The workspace installed the app again: the cards and task messages of the runs its removal stopped
   * still show their buttons (the token was gone), so they are brought up to date now, once per run.
   */
  async reinstalled(teamId: string): Promise<string[]> {
    const { db, clock, outbox } = this.deps;
    const runs = (await db.selectFrom('runs').selectAll().where('team_id', '=', teamId).where('status', '=', 'stopped').where('error_code', 'in', Object.keys(WHY)).execute()) as Run[];
    const refreshed: string[] = [];
    for (const run of runs) {
      const done = await db.transaction().execute(async (trx) => {
        const claimed = await trx.insertInto('processed_events').values({ key: `refreshed-after-reinstall:${run.id}`, at: clock.now().toISOString() }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
        if (Number(claimed.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
        const cards = await trx.selectFrom('actions').select('id').where('run_id', '=', run.id).where('status', '=', 'cancelled').where('card_ts', 'is not', null).execute();
        for (const c of cards) await outbox.updateCard(trx, run, c.id);
        await outbox.updateTaskMessage(trx, run, 'now');
        return true;
      });
      if (done) refreshed.push(run.id);
    }
    if (refreshed.length > 0) outbox.wake();
    return refreshed;
  }

  /** `tokens_revoked`: a revoked bot token ends the workspace like an uninstall; user tokens are just dropped. */
  async tokensRevoked(teamId: string, revoked: { bot: readonly string[]; oauth: readonly string[] }, eventAt: Date): Promise<RemovalResult | undefined> {
    if (revoked.bot.length > 0) return this.remove(teamId, 'tokens_revoked', eventAt);
    if (revoked.oauth.length > 0) await this.deps.installations.removeUserTokens(teamId, revoked.oauth);
    return undefined;
  }
}
