import { EXPIRY_ACTOR } from './approvalPolicy.js';
import { requesterPing } from './deciders.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { countPendingApprovals, transitionAction } from '../db/repos/actions.js';
import { appendActivity, listRunActivity } from '../db/repos/activity.js';
import { countRunsByStatus, getRun, transitionRun } from '../db/repos/runs.js';
import { getWorkspace, type WorkspaceView } from '../db/repos/workspace.js';
import type { Action, ActivityRow, Run, RunStatus } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { ExternalSource, ToolRegistry } from '../tools/registry.js';
import type { AdminCheck } from './admins.js';
import type { RunEngine } from './engine.js';
import type { QueueThresholds } from './policyContext.js';
import type { CapsService } from './capsService.js';
import type { Caps } from '../policy/caps.js';
import type { Outbox } from './outbox.js';
import { PRIORITY } from './outbox.js';
import { code, md, mention } from '../text/mrkdwn.js';
import { organisationRefusal, rememberEnterprise, type Clicker } from './organisation.js';
import { Visibility, type Viewer } from './visibility.js';

export interface WorkspaceStatus {
  workspace: WorkspaceView;
  caps: Caps;
  pendingApprovals: number;
  queue: QueueThresholds;
  runs: Partial<Record<RunStatus, number>>;
  spendTodayUsd: number;
  /** What prompt caching saved today (negative if it cost more). */
  cacheSavedTodayUsd: number;
  toolsOffered: string[];
  toolsUnavailable: Array<{ name: string; why: string }>;
  /** MCP servers of MCP_CONFIG and their state (connected, unavailable and why, disabled). */
  mcpServers: ExternalSource[];
}

export interface ControlDeps {
  db: Db;
  clock: Clock;
  engine: RunEngine;
  registry: ToolRegistry;
  admins: AdminCheck;
  queue: QueueThresholds;
  caps: CapsService;
  outbox: Outbox;
}

/** Read and control runs on behalf of slash commands. */
export class RunControl {
  readonly visibility: Visibility;

  constructor(private readonly deps: ControlDeps) {
    this.visibility = new Visibility(deps.admins);
  }

  async getRun(runId: string): Promise<Run> {
    const run = await getRun(this.deps.db, runId);
    if (!run) throw new AppError('run_not_found', `There is no run \`${runId}\`.`);
    return run;
  }

  /** A run is visible to commands from its own workspace only. */
  async getTeamRun(teamId: string, runId: string): Promise<Run> {
    const run = await this.getRun(runId);
    if (run.team_id !== teamId) throw new AppError('run_not_found', `There is no run \`${runId}\`.`);
    return run;
  }

  /** A run for `/agent status <id>` and the like: refused, saying where to look, outside its channel. */
  async visibleRun(teamId: string, runId: string, viewer: Viewer, command: string): Promise<Run> {
    const run = await this.getTeamRun(teamId, runId);
    await this.visibility.assertCanSee(run, viewer, command);
    return run;
  }

  async log(teamId: string, runId: string, viewer: Viewer): Promise<{ run: Run; activity: ActivityRow[] }> {
    const run = await this.visibleRun(teamId, runId, viewer, 'log');
    return { run, activity: await listRunActivity(this.deps.db, run.id) };
  }

  /** Slash commands carry the workspace's Enterprise Grid id: remembered for the organisation check. */
  async noteEnterprise(teamId: string, enterpriseId: string | undefined): Promise<void> {
    await rememberEnterprise(this.deps.db, teamId, enterpriseId, this.deps.clock.now().toISOString());
  }

  /**
   * Run controls (Raise cap, Stop, Retry) are decisions: only people of the run's own organisation make
   * them. A refusal is logged and says why; the run is returned otherwise.
   */
  async authorizeClick(runId: string, clicker: Clicker, control: string): Promise<Run> {
    const run = await this.getRun(runId);
    await this.authorizeTeamClick(run.team_id, clicker, control, run.id);
    return run;
  }

  /** The same check for controls that belong to a workspace rather than a run (schedule buttons). */
  async authorizeTeamClick(teamId: string, clicker: Clicker, control: string, runId?: string): Promise<void> {
    const why = await organisationRefusal(this.deps.db, teamId, clicker);
    if (!why) return;
    await appendActivity(this.deps.db, {
      at: this.deps.clock.now().toISOString(),
      teamId,
      ...(runId ? { runId } : {}),
      actor: clicker.userId,
      kind: 'control_refused',
      detail: { control, why, org: clicker.orgId },
    });
    throw new AppError('not_allowed', `${why} Nothing was changed.`);
  }

  async status(teamId: string): Promise<WorkspaceStatus> {
    const { db, registry } = this.deps;
    const [workspace, pendingApprovals, runs, spendTodayUsd, cacheSavedTodayUsd] = await Promise.all([
      getWorkspace(db, teamId),
      countPendingApprovals(db, teamId),
      countRunsByStatus(db, teamId),
      this.deps.caps.spendToday(teamId),
      this.deps.caps.cacheSavedToday(teamId),
    ]);
    return {
      workspace,
      caps: await this.deps.caps.capsFor(teamId),
      pendingApprovals,
      queue: this.deps.queue,
      runs,
      spendTodayUsd,
      cacheSavedTodayUsd,
      toolsOffered: registry.names(),
      toolsUnavailable: [...registry.unavailable.entries()].map(([name, why]) => ({ name, why })),
      mcpServers: registry.sources().filter((s) => s.kind === 'mcp'),
    };
  }

  private async requesterOrAdmin(run: Run, userId: string, what: string): Promise<boolean> {
    if (run.requester_id === userId) return false;
    if (await this.deps.admins.isAdmin(run.team_id, userId)) return true;
    throw new AppError('not_allowed', md`Only the requester (${mention(run.requester_id)}) or an admin can ${what} ${code(run.id)}.`.value);
  }

  /**
   * "Raise cap and continue". Run and turn caps: the requester (while today's caps allow) or an admin
   * raises this run's own limit. Daily caps: only admins, who raise the workspace's cap.
   */
  async raiseCap(teamId: string, runId: string, userId: string): Promise<string> {
    const { caps, engine, clock, db } = this.deps;
    const run = await this.getTeamRun(teamId, runId);
    if (run.status !== 'stopped' || run.error_code !== 'cap_reached') throw new AppError('invalid_state', `Run \`${run.id}\` is ${run.status.replace('_', ' ')}, not stopped at a cap.`);
    const isAdmin = await this.requesterOrAdmin(run, userId, 'raise the cap of');
    const check = await caps.check(run);
    const defaults = await caps.capsFor(teamId);
    const at = clock.now().toISOString();
    let what: string;
    if (check.ok || check.cap === 'run' || check.cap === 'turns') {
      // Both limits of the run go up by one default allowance, so it can finish what it was doing.
      const runCap = Math.max(run.cost_cap_usd ?? defaults.runUsd, run.spend_usd) + defaults.runUsd;
      const turnCap = Math.max(run.max_turns ?? defaults.turns, run.turns) + defaults.turns;
      await db.updateTable('runs').set({ cost_cap_usd: runCap, max_turns: turnCap, updated_at: at }).where('id', '=', run.id).execute();
      what = `run cap raised to $${runCap.toFixed(2)} and ${turnCap} turns`;
    } else {
      if (!isAdmin) throw new AppError('not_allowed', `Today's ${check.cap} cap is reached; only an admin can raise it (\`/agent caps ${check.cap} <usd>\`).`);
      const next = check.limit + (check.cap === 'user-day' ? defaults.userDayUsd : defaults.workspaceDayUsd);
      await caps.set(teamId, userId, check.cap, next);
      what = `${check.cap} cap raised to $${next.toFixed(2)}`;
    }
    await appendActivity(db, { at, teamId, runId: run.id, actor: userId, kind: 'cap_raised', detail: { what } });
    await engine.resumeStopped(run.id, md`:arrow_forward: ${mention(userId)} ${what}; continuing.`);
    return what;
  }

  /** Retry of a run that failed on a Claude error: resumes from the last persisted step. */
  async retry(teamId: string, runId: string, userId: string): Promise<void> {
    const run = await this.getTeamRun(teamId, runId);
    if (run.status !== 'failed' || run.error_code !== 'model_call_failed') throw new AppError('invalid_state', `Run \`${run.id}\` is ${run.status}; only runs that failed on a Claude error can be retried.`);
    await this.requesterOrAdmin(run, userId, 'retry');
    await appendActivity(this.deps.db, { at: this.deps.clock.now().toISOString(), teamId, runId: run.id, actor: userId, kind: 'run_retried', detail: {} });
    await this.deps.engine.resumeStopped(run.id, md`:repeat: ${mention(userId)} is retrying from the last completed step.`);
  }

  /** "Stop" on a cap message: the run stays stopped; recorded so the log says who chose it. */
  async confirmStop(teamId: string, runId: string, userId: string): Promise<void> {
    const run = await this.getTeamRun(teamId, runId);
    await this.requesterOrAdmin(run, userId, 'stop');
    await appendActivity(this.deps.db, { at: this.deps.clock.now().toISOString(), teamId, runId: run.id, actor: userId, kind: 'stop_confirmed', detail: {} });
    await this.deps.engine.announce(run.id, md`:octagonal_sign: ${mention(userId)} chose to leave this run stopped.`, PRIORITY.decision);
  }

  /** New runs are refused while the kill switch is on. */
  async assertCanStart(teamId: string): Promise<void> {
    const w = await getWorkspace(this.deps.db, teamId);
    if (w.disabled) {
      throw new AppError(
        'agent_disabled',
        md`The agent is disabled in this workspace${w.disabledBy ? md` by ${mention(w.disabledBy)}` : ''}${w.disabledReason ? md`: ${w.disabledReason}` : ''}. No new runs start until an admin runs \`/agent enable\`.`.value,
      );
    }
  }

  /**
   * `/agent rerun`: a new run with the old task, what went wrong, and the extra context. Only someone who
   * may see the old run can rerun it, and a rerun in another channel carries no rejected action's content
   * (its input, the rejection note): that stays where it was shown.
   */
  async rerun(teamId: string, runId: string, userId: string, channelId: string, extra: string, responseUrl?: string): Promise<Run> {
    const parent = await this.visibleRun(teamId, runId, { userId, channelId }, 'rerun');
    const sameChannel = parent.channel_id === channelId;
    const rejected = await this.deps.db
      .selectFrom('actions')
      .selectAll()
      .where('run_id', '=', parent.id)
      .where('status', '=', 'rejected')
      .executeTakeFirst();
    const context: string[] = [];
    if (rejected && sameChannel) {
      context.push(`The previous attempt (${parent.id}) proposed ${rejected.tool} with input ${rejected.input_json.slice(0, 1500)}, and ${rejected.decided_by === EXPIRY_ACTOR ? 'nobody decided before the approval request expired' : `<@${rejected.decided_by}> rejected it${rejected.decision_note ? ` with the note: "${rejected.decision_note}"` : ' without a note'}`}.`);
    } else if (rejected) {
      context.push(`The previous attempt (${parent.id}, in another channel) proposed ${rejected.tool} and a person rejected it. What it proposed and the rejection note stay in that channel; ask the requester what to do differently if it matters.`);
    } else if (parent.error_message && sameChannel) {
      context.push(`The previous attempt (${parent.id}) ended: ${parent.error_message}`);
    } else if (parent.error_message) {
      context.push(`The previous attempt (${parent.id}, in another channel) ended with status ${parent.status}.`);
    }
    if (extra.trim()) context.push(extra.trim());
    return this.deps.engine.startRun({ teamId, channelId, requesterId: userId, task: parent.task, parentRunId: parent.id, extraContext: context.join('\n\n') || null, ...(responseUrl ? { responseUrl } : {}) });
  }

  /** Cancel: requester or admin. Pending cards are closed; a step in flight stops at its next check. */
  async cancel(teamId: string, runId: string, userId: string): Promise<Run> {
    const { db, clock, engine } = this.deps;
    const run = await this.getTeamRun(teamId, runId);
    await this.requesterOrAdmin(run, userId, 'cancel');
    const at = clock.now().toISOString();
    const open = await db.transaction().execute(async (trx) => {
      const ok = await transitionRun(trx, run.id, ['running', 'awaiting_approval'], {
        status: 'cancelled',
        error_code: 'cancelled',
        error_message: `Cancelled by <@${userId}>`,
        finished_at: at,
        updated_at: at,
      });
      if (!ok) return null;
      const actions = (await trx.selectFrom('actions').selectAll().where('run_id', '=', run.id).where('status', 'in', ['pending', 'approved']).execute()) as Action[];
      for (const a of actions) {
        await transitionAction(trx, a.id, ['pending', 'approved'], {
          status: 'cancelled',
          decision_note: `The run was cancelled by <@${userId}>.`,
          result_json: JSON.stringify({ content: 'Cancelled: the run was cancelled.', is_error: true }),
          updated_at: at,
        });
      }
      await appendActivity(trx, { at, teamId, runId: run.id, actor: userId, kind: 'run_cancelled', detail: { reason: 'cancel_command', cancelledActions: actions.map((a) => a.id) } });
      const { outbox } = this.deps;
      for (const a of actions) await outbox.updateCard(trx, run, a.id);
      await outbox.line(trx, run, md`:no_entry_sign: ${mention(userId)} cancelled this run. Nothing further will be done.${requesterPing(run, userId).value ? md` ${mention(run.requester_id)}` : ''}`, PRIORITY.decision);
      await outbox.updateTaskMessage(trx, run, 'now');
      return actions;
    });
    if (!open) throw new AppError('invalid_state', `Run \`${run.id}\` is already ${run.status.replace('_', ' ')}.`);
    this.deps.outbox.wake();
    void engine;
    return this.getRun(run.id);
  }
}
