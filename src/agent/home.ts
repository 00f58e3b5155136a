import type { Db } from '../db/connection.js';
import { countPendingApprovals } from '../db/repos/actions.js';
import { getHomeNote } from '../db/repos/homeViewers.js';
import type { Action, Run } from '../db/schema.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { AdminCheck } from './admins.js';
import { escalatedApprovers } from './approvalPolicy.js';
import { describeAction } from './cards.js';
import { editableFields } from './edits.js';
import type { QueueThresholds } from './policyContext.js';
import type { TrustService } from './trust.js';
import type { TrustSuggestion } from './trustSuggestions.js';

/** Who is in a channel (Slack's conversations.members, cached briefly by the Slack layer). */
export interface ChannelMembers {
  /** False when Slack cannot say (a private channel the app is not in, an error): seeing needs proof. */
  isMember(teamId: string, channel: string, userId: string): Promise<boolean>;
}

/** One approval waiting for the viewer. Text fields are untrusted (tool descriptions, task text). */
export interface HomeItem {
  action: Action;
  run: Run;
  summary: string;
  editable: boolean;
}

export interface HomeData {
  teamId: string;
  userId: string;
  /** The answer to the viewer's last click in the Home tab (safe mrkdwn, built with `md`). */
  note: { text: string; at: string } | undefined;
  /** Approvals the viewer may both see and decide, oldest first. */
  waiting: HomeItem[];
  /** The viewer's own runs, newest first (at most RUNS_SHOWN), and how many they have in all. */
  runs: Run[];
  runsTotal: number;
  /** Admins only: the workspace's approval queue against its thresholds. */
  queue: { pending: number; warnAt: number; stopAt: number } | undefined;
  /** Admins only: trust suggestions still open (see trustSuggestions.ts); empty for everyone else. */
  suggestions: TrustSuggestion[];
}

export interface HomeViewDeps {
  db: Db;
  registry: ToolRegistry;
  trust: TrustService;
  admins: AdminCheck;
  members: ChannelMembers;
  queue: QueueThresholds;
  /** Trust suggestions shown to admins; left out, the Home shows none. */
  suggestions?: { list(teamId: string): Promise<TrustSuggestion[]> };
}

const RUNS_SHOWN = 10;
/** The oldest this many waiting actions of a workspace are considered for one Home (a bound on work). */
const PENDING_SCANNED = 500;

/**
 * What one person's Home tab shows, read fresh from the database when it is published. An approval is
 * listed only for someone who may see its run (in the run's or the card's channel, its requester, an admin)
 * and may decide it (approvers, self-approval): the same rules the buttons are checked against again.
 */
export class HomeViews {
  constructor(private readonly deps: HomeViewDeps) {}

  /** Whether the viewer may see the action's run (Home clicks are checked again with this). */
  async maySee(teamId: string, userId: string, actionId: string): Promise<boolean> {
    const { db, admins } = this.deps;
    const action = (await db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirst()) as Action | undefined;
    if (!action || action.team_id !== teamId) return false;
    const run = (await db.selectFrom('runs').selectAll().where('id', '=', action.run_id).executeTakeFirst()) as Run | undefined;
    if (!run || run.team_id !== teamId) return false;
    if ((await admins.isAdmin(teamId, userId)) || run.requester_id === userId) return true;
    const member = this.memberCheck(teamId, userId);
    return (await member(run.channel_id)) || (await member(action.card_channel));
  }

  /** Channel membership of one viewer, asked once per channel per use. */
  private memberCheck(teamId: string, userId: string): (channel: string | null) => Promise<boolean> {
    const memberOf = new Map<string, Promise<boolean>>();
    return (channel) => {
      if (!channel) return Promise.resolve(false);
      let known = memberOf.get(channel);
      if (!known) memberOf.set(channel, (known = this.deps.members.isMember(teamId, channel, userId)));
      return known;
    };
  }

  async home(teamId: string, userId: string): Promise<HomeData> {
    const { db, registry, admins, trust } = this.deps;
    const isAdmin = await admins.isAdmin(teamId, userId);
    const pending = (await db
      .selectFrom('actions')
      .selectAll()
      .where('team_id', '=', teamId)
      .where('status', '=', 'pending')
      .orderBy('created_at')
      .orderBy('id')
      .limit(PENDING_SCANNED)
      .execute()) as Action[];
    const runIds = [...new Set(pending.map((a) => a.run_id))];
    const runs = runIds.length ? ((await db.selectFrom('runs').selectAll().where('id', 'in', runIds).execute()) as Run[]) : [];
    const runById = new Map(runs.map((r) => [r.id, r]));
    const member = this.memberCheck(teamId, userId);
    const waiting: HomeItem[] = [];
    for (const action of pending) {
      const run = runById.get(action.run_id);
      // Only runs of this workspace that still wait for a decision.
      if (!run || run.team_id !== teamId || (run.status !== 'awaiting_approval' && run.status !== 'running')) continue;
      const visible = isAdmin || run.requester_id === userId || (await member(run.channel_id)) || (await member(action.card_channel));
      if (!visible) continue;
      // A backup group an overdue card was escalated to may decide it too (the same check as the click's).
      if (!(await trust.canApprove(run, action.tool, userId, await escalatedApprovers(db, action.id))).ok) continue;
      waiting.push({ action, run, summary: describeAction(registry, action).summary, editable: editableFields(action.tool) !== undefined && registry.get(action.tool) !== undefined });
    }
    const own = (await db.selectFrom('runs').selectAll().where('team_id', '=', teamId).where('requester_id', '=', userId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(RUNS_SHOWN).execute()) as Run[];
    const total = await db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).where('team_id', '=', teamId).where('requester_id', '=', userId).executeTakeFirst();
    const note = await getHomeNote(db, teamId, userId);
    return {
      teamId,
      userId,
      note: note ? { text: note.note, at: note.at } : undefined,
      waiting,
      runs: own,
      runsTotal: Number(total?.n ?? 0),
      queue: isAdmin ? { pending: await countPendingApprovals(db, teamId), ...this.deps.queue } : undefined,
      suggestions: isAdmin && this.deps.suggestions ? await this.deps.suggestions.list(teamId) : [],
    };
  }
}
