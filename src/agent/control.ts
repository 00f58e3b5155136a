import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { countPendingApprovals, transitionAction } from '../db/repos/actions.js';
import { appendActivity, listRunActivity } from '../db/repos/activity.js';
import { spendSince } from '../db/repos/modelCalls.js';
import { countRunsByStatus, getRun, transitionRun } from '../db/repos/runs.js';
import { getWorkspace, type WorkspaceView } from '../db/repos/workspace.js';
import type { Action, ActivityRow, Run, RunStatus } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { AdminCheck } from './admins.js';
import type { RunEngine } from './engine.js';
import type { QueueThresholds } from './policyContext.js';

export interface WorkspaceStatus {
  workspace: WorkspaceView;
  pendingApprovals: number;
  queue: QueueThresholds;
  runs: Partial<Record<RunStatus, number>>;
  spendTodayUsd: number;
  toolsOffered: string[];
  toolsUnavailable: Array<{ name: string; why: string }>;
}

export interface ControlDeps {
  db: Db;
  clock: Clock;
  engine: RunEngine;
  registry: ToolRegistry;
  admins: AdminCheck;
  queue: QueueThresholds;
}

/** Read and control runs on behalf of slash commands. */
export class RunControl {
  constructor(private readonly deps: ControlDeps) {}

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

  async log(teamId: string, runId: string): Promise<{ run: Run; activity: ActivityRow[] }> {
    const run = await this.getTeamRun(teamId, runId);
    return { run, activity: await listRunActivity(this.deps.db, run.id) };
  }

  async status(teamId: string): Promise<WorkspaceStatus> {
    const { db, clock, registry } = this.deps;
    const dayStart = new Date(clock.now());
    dayStart.setUTCHours(0, 0, 0, 0);
    const [workspace, pendingApprovals, runs, spendTodayUsd] = await Promise.all([
      getWorkspace(db, teamId),
      countPendingApprovals(db, teamId),
      countRunsByStatus(db, teamId),
      spendSince(db, teamId, dayStart.toISOString()),
    ]);
    return {
      workspace,
      pendingApprovals,
      queue: this.deps.queue,
      runs,
      spendTodayUsd,
      toolsOffered: registry.names(),
      toolsUnavailable: [...registry.unavailable.entries()].map(([name, why]) => ({ name, why })),
    };
  }

  /** Cancel: requester or admin. Pending cards are closed; a step in flight stops at its next check. */
  async cancel(teamId: string, runId: string, userId: string): Promise<Run> {
    const { db, clock, engine } = this.deps;
    const run = await this.getTeamRun(teamId, runId);
    if (run.requester_id !== userId && !(await this.deps.admins.isAdmin(teamId, userId))) {
      throw new AppError('not_allowed', `Only the requester (<@${run.requester_id}>) or an admin can cancel \`${run.id}\`.`);
    }
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
      return actions;
    });
    if (!open) throw new AppError('invalid_state', `Run \`${run.id}\` is already ${run.status.replace('_', ' ')}.`);
    for (const a of open) await engine.refreshCard(a.id);
    await engine.safePost(run.id, `:no_entry_sign: <@${userId}> cancelled this run. Nothing further will be done.`);
    await engine.safeUpdateTaskMessage(run.id);
    return this.getRun(run.id);
  }
}
