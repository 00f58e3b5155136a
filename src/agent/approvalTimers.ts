import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { getAction, transitionAction } from '../db/repos/actions.js';
import { appendActivity } from '../db/repos/activity.js';
import { escalationOf } from '../db/repos/approvalRules.js';
import { getRun, lockRun, transitionRun } from '../db/repos/runs.js';
import type { Approvers } from '../db/repos/trust.js';
import type { Action, ActionPolicy, Run } from '../db/schema.js';
import { errorMessage } from '../errors.js';
import { channelRef, code, joinMd, md, mention, subteamRef, trusted, type Mrkdwn } from '../text/mrkdwn.js';
import type { ToolRegistry } from '../tools/registry.js';
import { countedApprovals, EXPIRY_ACTOR } from './approvalPolicy.js';
import { describeAction } from './cards.js';
import { namedApprovers, requesterPing } from './deciders.js';
import { formatDelay } from './durations.js';
import { PRIORITY, type Outbox } from './outbox.js';
import type { GroupDirectory } from './trust.js';

export interface ApprovalTimerDeps {
  db: Db;
  clock: Clock;
  registry: ToolRegistry;
  outbox: Outbox;
  groups: GroupDirectory;
  logger: Logger;
}

/** How many due timers one pass handles; the rest wait for the next pass (a second later). */
const BATCH = 50;
/** A group is told person by person; a huge group gets its mention in the thread only. */
const MAX_DMS = 25;

/**
 * The durable timers of waiting approval cards: reminders (with escalation) and expiry. Due times are
 * stored with each waiting call (`action_policies`) and read with the injected clock, so they survive a
 * restart; each is claimed with a conditional update in the transaction that queues its messages, so of
 * any number of instances exactly one fires it, once.
 */
export class ApprovalTimers {
  constructor(private readonly deps: ApprovalTimerDeps) {}

  async tick(now: Date = this.deps.clock.now()): Promise<{ reminded: string[]; expired: string[] }> {
    const at = now.toISOString();
    const due = await this.deps.db
      .selectFrom('action_policies')
      .selectAll()
      .where((eb) => eb.or([eb('remind_at', '<=', at), eb('expire_at', '<=', at)]))
      .orderBy('created_at')
      .limit(BATCH)
      .execute();
    const reminded: string[] = [];
    const expired: string[] = [];
    for (const row of due) {
      try {
        // Expiry first: a reminder for a card that is closing now would only confuse.
        if (row.expire_at !== null && row.expire_at <= at) {
          if (await this.expire(row, at)) expired.push(row.action_id);
        } else if (row.remind_at !== null && row.remind_at <= at) {
          if (await this.remind(row, at)) reminded.push(row.action_id);
        }
      } catch (err) {
        this.deps.logger.warn({ err: errorMessage(err), actionId: row.action_id }, 'approval timer failed; it is tried again at the next pass');
      }
    }
    if (reminded.length || expired.length) this.deps.outbox.wake();
    return { reminded, expired };
  }

  /** The reminder: DMs the approvers; with an escalation, the backup approvers may decide too and are told. */
  private async remind(row: ActionPolicy, at: string): Promise<boolean> {
    const { db, registry, outbox } = this.deps;
    const action = await getAction(db, row.action_id);
    const run = action ? await getRun(db, action.run_id) : undefined;
    const escalate = escalationOf(row);
    // Slack reads (group members) happen before the transaction; what they decide is queued inside it.
    const live = action?.status === 'pending' && run && (run.status === 'awaiting_approval' || run.status === 'running');
    const approvers = live ? await this.approversToRemind(action, run) : [];
    const backup = live && escalate ? await this.members(run.team_id, escalate) : [];
    return db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('action_policies')
        .set({ remind_at: null, reminded_at: at, ...(live && escalate ? { escalated_at: at } : {}) })
        .where('action_id', '=', row.action_id)
        .where('remind_at', '=', row.remind_at)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1 || !live) return false;
      // Decided between the read above and the claim: nothing to remind of.
      if ((await getAction(trx, action.id))?.status !== 'pending') return false;
      const summary = describeAction(registry, action).summary;
      const waited = formatDelay((Date.parse(at) - Date.parse(row.created_at)) / 1000);
      const where = action.card_channel ? md` in ${channelRef(action.card_channel)}` : trusted('');
      const text = md`:alarm_clock: Reminder: an approval has been waiting ${trusted(waited)}${where}: "${summary}" (run ${code(run.id)}, requested by ${mention(run.requester_id)}).`;
      for (const user of approvers) await outbox.toChannel(trx, run.team_id, user, text);
      if (escalate) {
        const who = joinMd([...escalate.groups.map(subteamRef), ...escalate.users.map(mention)], trusted(' '));
        await outbox.line(trx, run, md`:rotating_light: No decision after ${trusted(waited)} on "${summary}": ${who} may now approve or reject it too.`, PRIORITY.decision);
        const told = md`:rotating_light: You were added as a backup approver: an approval has been waiting ${trusted(waited)}${where}: "${summary}" (run ${code(run.id)}, requested by ${mention(run.requester_id)}). You may now approve or reject it.`;
        for (const user of backup.filter((u) => !approvers.includes(u))) await outbox.toChannel(trx, run.team_id, user, told);
        await appendActivity(trx, { at, teamId: run.team_id, runId: run.id, actionId: action.id, actor: 'system', kind: 'approval_escalated', detail: { tool: action.tool, to: escalate } });
        await outbox.updateCard(trx, run, action.id);
      }
      await appendActivity(trx, { at, teamId: run.team_id, runId: run.id, actionId: action.id, actor: 'system', kind: 'approval_reminded', detail: { tool: action.tool, notified: approvers } });
      return true;
    });
  }

  /** Whoever may decide and has not approved yet: the named approvers (groups expanded), else the requester. */
  private async approversToRemind(action: Action, run: Run): Promise<string[]> {
    const named = await namedApprovers(this.deps.db, this.deps.registry, run.team_id, action.tool);
    const people = named ? await this.members(run.team_id, named) : [run.requester_id];
    const approved = new Set((await countedApprovals(this.deps.db, action, run)).map((a) => a.user));
    return people.filter((u) => !approved.has(u));
  }

  private async members(teamId: string, who: Approvers): Promise<string[]> {
    const users = new Set(who.users);
    for (const g of who.groups) {
      try {
        for (const u of await this.deps.groups.members(teamId, g)) users.add(u);
      } catch (err) {
        // A group we cannot read is still mentioned in the thread (escalation); only its DMs are lost.
        this.deps.logger.warn({ err: errorMessage(err), group: g }, 'could not read a user group for an approval reminder');
      }
    }
    return [...users].slice(0, MAX_DMS);
  }

  /**
   * Expiry: the call is closed as if rejected with the note "expired" (the model's tool result says so),
   * nothing is dispatched, the run is cancelled, and the card, the thread and the task message say so.
   */
  private async expire(row: ActionPolicy, at: string): Promise<boolean> {
    const { db, registry, outbox } = this.deps;
    const after = row.expire_after_s ? formatDelay(row.expire_after_s) : undefined;
    const expired = await db.transaction().execute(async (trx) => {
      await lockRun(trx, row.run_id);
      // The due time is cleared whatever happens below: a decided card has nothing left to expire.
      const cleared = await trx.updateTable('action_policies').set({ expire_at: null, remind_at: null }).where('action_id', '=', row.action_id).where('expire_at', '=', row.expire_at).executeTakeFirst();
      if (Number(cleared.numUpdatedRows) !== 1) return false;
      const claimed = await transitionAction(trx, row.action_id, ['pending'], {
        status: 'rejected',
        decided_by: EXPIRY_ACTOR,
        decided_at: at,
        decision_note: 'expired',
        result_json: JSON.stringify({ content: `Rejected: expired. Nobody approved or rejected it${after ? ` within ${after}` : ''}, so it was not done.`, is_error: true }),
        updated_at: at,
      });
      if (!claimed) return false;
      const action = (await getAction(trx, row.action_id))!;
      const runCancelled = await transitionRun(trx, row.run_id, ['running', 'awaiting_approval'], {
        status: 'cancelled',
        error_code: 'rejected',
        error_message: `Expired: nobody decided${after ? ` within ${after}` : ''}`,
        finished_at: at,
        updated_at: at,
      });
      const others = (await trx.selectFrom('actions').selectAll().where('run_id', '=', row.run_id).where('status', 'in', ['pending', 'approved']).execute()) as Action[];
      for (const other of others) {
        await transitionAction(trx, other.id, ['pending', 'approved'], {
          status: 'cancelled',
          decision_note: 'Cancelled: another action of this run expired without a decision.',
          result_json: JSON.stringify({ content: 'Cancelled because another action expired without a decision.', is_error: true }),
          updated_at: at,
        });
      }
      await appendActivity(trx, { at, teamId: row.team_id, runId: row.run_id, actionId: row.action_id, actor: 'system', kind: 'approval_expired', detail: { tool: action.tool, afterS: row.expire_after_s, cancelledActions: others.map((o) => o.id) } });
      if (runCancelled) await appendActivity(trx, { at, teamId: row.team_id, runId: row.run_id, actor: 'system', kind: 'run_cancelled', detail: { reason: 'expired' } });
      const run = await getRun(trx, row.run_id);
      if (run) {
        await outbox.updateCard(trx, run, action.id);
        for (const other of others) await outbox.updateCard(trx, run, other.id);
        const summary = describeAction(registry, action).summary;
        await outbox.line(trx, run, expiredLine(run, summary, after, runCancelled), PRIORITY.decision);
        await outbox.updateTaskMessage(trx, run, 'now');
      }
      return true;
    });
    return expired;
  }
}

function expiredLine(run: Run, summary: string, after: string | undefined, runCancelled: boolean): Mrkdwn {
  return md`:hourglass: ${requesterPing(run)}The approval request for "${summary}" expired: nobody decided${trusted(after ? ` within ${after}` : '')}. Nothing was done. ${runCancelled ? 'The run is cancelled.' : 'The run had already ended.'} Use \`/agent rerun ${run.id} ${'<more context>'}\` to try again.`;
}
