import { z } from 'zod';
import type { ToolDefinition } from './types.js';

export const TASK_STATUSES = ['todo', 'in_progress', 'blocked', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The task message's checklist and status line (implemented by the agent, which owns runs). */
export interface TaskBoard {
  addSubtask(runId: string, title: string): Promise<{ id: string }>;
  removeSubtask(runId: string, id: string): Promise<boolean>;
  /** Returns the previous status. */
  setStatus(runId: string, status: TaskStatus): Promise<string>;
}

const subtaskInput = z.object({ title: z.string().trim().min(1, 'title must not be empty').max(200, 'title must be at most 200 characters') });
const statusInput = z.object({ status: z.enum(TASK_STATUSES) });

/** A checklist item on the task message. Reversible: Undo removes it. */
export function createSubtaskTool(board: TaskBoard): ToolDefinition<z.infer<typeof subtaskInput>> {
  return {
    name: 'create_subtask',
    description: 'Add a checklist item to this task\'s Slack message, to show the plan or progress. Title: at most 200 characters.',
    inputSchema: subtaskInput,
    describe: (input) => ({ summary: `Add checklist item "${input.title}" to the task` }),
    async run(input, ctx) {
      const item = await board.addSubtask(ctx.run.id, input.title);
      return { content: `Checklist item added: ${input.title}`, undoData: { subtaskId: item.id } };
    },
    async undo(_input, ctx) {
      const id = typeof ctx.undoData['subtaskId'] === 'string' ? ctx.undoData['subtaskId'] : '';
      const removed = await board.removeSubtask(ctx.run.id, id);
      return removed ? { content: 'Checklist item removed.' } : { content: 'The checklist item was already gone.', isError: true };
    },
  };
}

/** The status line of the task message. Reversible: Undo restores the previous status. */
export function createSetTaskStatusTool(board: TaskBoard): ToolDefinition<z.infer<typeof statusInput>> {
  return {
    name: 'set_task_status',
    description: `Set the status shown on this task's Slack message: one of ${TASK_STATUSES.join(', ')}.`,
    inputSchema: statusInput,
    describe: (input) => ({ summary: `Set the task status to ${input.status.replace('_', ' ')}` }),
    async run(input, ctx) {
      const previous = await board.setStatus(ctx.run.id, input.status);
      return { content: `Task status set to ${input.status}.`, undoData: { previous } };
    },
    async undo(_input, ctx) {
      const previous = ctx.undoData['previous'];
      const parsed = statusInput.shape.status.safeParse(previous);
      if (!parsed.success) return { content: 'The previous status is unknown.', isError: true };
      await board.setStatus(ctx.run.id, parsed.data);
      return { content: `Task status restored to ${parsed.data}.` };
    },
  };
}
