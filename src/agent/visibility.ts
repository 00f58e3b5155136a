import type { Run } from '../db/schema.js';
import { AppError } from '../errors.js';
import { channelRef, code, md } from '../text/mrkdwn.js';
import type { AdminCheck } from './admins.js';

/** Who is looking, and from where (a slash command's channel, the channel a button was clicked in). */
export interface Viewer {
  userId: string;
  channelId: string | null;
}

/**
 * A run's details (task, log, cards, rejection notes) are for the people who can already see its thread:
 * they are shown in the run's own channel, to its requester and to admins, and nowhere else.
 */
export class Visibility {
  constructor(private readonly admins: AdminCheck) {}

  isAdmin(teamId: string, userId: string): Promise<boolean> {
    return this.admins.isAdmin(teamId, userId);
  }

  /** `alsoIn`: other channels where the run's content already is (e.g. the approvals channel of a card). */
  async canSee(run: Pick<Run, 'team_id' | 'channel_id' | 'requester_id'>, viewer: Viewer, alsoIn: Array<string | null> = []): Promise<boolean> {
    if (viewer.channelId && (viewer.channelId === run.channel_id || alsoIn.includes(viewer.channelId))) return true;
    if (viewer.userId === run.requester_id) return true;
    return this.admins.isAdmin(run.team_id, viewer.userId);
  }

  /** Refuses with where to look, and nothing of the run itself. */
  async assertCanSee(run: Run, viewer: Viewer, command: string): Promise<void> {
    if (await this.canSee(run, viewer)) return;
    throw new AppError(
      'not_allowed',
      md`Run ${code(run.id)} belongs to another channel: its details are shown in ${channelRef(run.channel_id)}, to its requester and to admins. Use ${code(`/agent ${command} ${run.id}`)} there.`.value,
    );
  }
}
