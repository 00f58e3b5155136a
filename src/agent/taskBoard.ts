import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/connection.js';
import { parseStoredJson } from '../db/json.js';
import { getRun, updateRun } from '../db/repos/runs.js';
import { AppError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { TaskBoard, TaskStatus } from '../tools/taskTools.js';


export const subtasksSchema = z.array(z.object({ id: z.string(), title: z.string(), done: z.boolean() }));
export type Subtask = z.infer<typeof subtasksSchema>[number];

export function subtasksOf(json: string): Subtask[] {
  return parseStoredJson(subtasksSchema, json, 'subtasks');
}

/**
 * The task message's checklist and status line, kept in the run row and re-rendered on every change.
 * Used by the task tools and their Undo.
 */
export class RunTaskBoard implements TaskBoard {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** Re-renders the task message after a change; failures are the caller's to report. */
    private readonly rerender: (runId: string) => Promise<void>,
  ) {}

  private async mustGetRun(runId: string) {
    const run = await getRun(this.db, runId);
    if (!run) throw new AppError('run_not_found', `No run ${runId}`);
    return run;
  }

  async addSubtask(runId: string, title: string): Promise<Subtask> {
    const run = await this.mustGetRun(runId);
    const list = subtasksOf(run.subtasks_json);
    if (list.length >= 30) throw new AppError('invalid_state', 'The task already has 30 checklist items.');
    const item = { id: randomBytes(4).toString('hex'), title, done: false };
    await updateRun(this.db, runId, { subtasks_json: JSON.stringify([...list, item]), updated_at: this.clock.now().toISOString() });
    await this.rerender(runId);
    return item;
  }

  async removeSubtask(runId: string, id: string): Promise<boolean> {
    const run = await this.mustGetRun(runId);
    const list = subtasksOf(run.subtasks_json);
    const next = list.filter((s) => s.id !== id);
    if (next.length === list.length) return false;
    await updateRun(this.db, runId, { subtasks_json: JSON.stringify(next), updated_at: this.clock.now().toISOString() });
    await this.rerender(runId);
    return true;
  }

  /** Sets the status and returns the previous one (what Undo restores). */
  async setStatus(runId: string, status: TaskStatus): Promise<string> {
    const run = await this.mustGetRun(runId);
    await updateRun(this.db, runId, { task_status: status, updated_at: this.clock.now().toISOString() });
    await this.rerender(runId);
    return run.task_status;
  }
}
