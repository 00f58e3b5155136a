import { z } from 'zod';
import { ToolError } from '../errors.js';
import type { ToolDefinition } from './types.js';

/** What the schedule tools need; the agent's Scheduler implements it. */
export interface ScheduleStore {
  /** Validates and explains a schedule; throws ToolError with the reason when the cron is invalid. */
  explain(cron: string, timezone: string): { description: string; next: string[] };
  create(input: { teamId: string; channelId: string; ownerId: string; cron: string; timezone: string; task: string; runId: string }): Promise<{ id: string }>;
  get(teamId: string, id: string): Promise<{ id: string; cron: string; timezone: string; task: string; status: string } | undefined>;
  setStatus(teamId: string, id: string, status: 'active' | 'paused' | 'deleted'): Promise<{ previous: string }>;
}

const scheduleInput = z.object({
  cron: z.string().trim().min(9).max(100),
  task: z.string().trim().min(1).max(2000),
  timezone: z.string().trim().max(64).optional(),
});
const idInput = z.object({ schedule_id: z.string().regex(/^s-[a-z0-9]{6,}$/, 'schedule ids look like s-abc123') });

/** Recurring runs. Approval by default: the card shows the schedule in words and the next fire times. */
export function createScheduleRunTool(store: ScheduleStore, defaultTimezone = 'UTC'): ToolDefinition<z.infer<typeof scheduleInput>> {
  return {
    name: 'schedule_run',
    description:
      'Create a recurring run of a task on a 5-field cron schedule (minute hour day-of-month month day-of-week), in an IANA time zone (default UTC). Each firing starts a normal run in this channel, owned by whoever approves the schedule.',
    inputSchema: scheduleInput,
    async prepare(input) {
      const tz = input.timezone ?? defaultTimezone;
      const explained = store.explain(input.cron, tz);
      return { timezone: tz, description: explained.description, next: explained.next };
    },
    describe(input, prepared) {
      const description = typeof prepared['description'] === 'string' ? prepared['description'] : input.cron;
      const next = Array.isArray(prepared['next']) ? (prepared['next'] as string[]) : [];
      return {
        summary: `Run "${input.task.length > 60 ? `${input.task.slice(0, 60)}…` : input.task}" ${description}`,
        fields: [
          { label: 'Schedule', value: `${description} (cron ${input.cron})` },
          { label: 'Time zone', value: typeof prepared['timezone'] === 'string' ? prepared['timezone'] : defaultTimezone },
          { label: 'Next runs', value: next.length ? next.join('; ') : 'none within a year' },
        ],
        content: input.task,
        contentLabel: 'Task',
      };
    },
    async run(input, ctx) {
      if (!ctx.approvedBy) throw new ToolError('schedule_unapproved', 'A schedule needs a person to approve it: it runs as them.');
      const tz = typeof ctx.prepared['timezone'] === 'string' ? ctx.prepared['timezone'] : defaultTimezone;
      const s = await store.create({ teamId: ctx.run.teamId, channelId: ctx.run.channelId, ownerId: ctx.approvedBy, cron: input.cron, timezone: tz, task: input.task, runId: ctx.run.id });
      return { content: `Schedule ${s.id} created: ${String(ctx.prepared['description'] ?? input.cron)}, owned by <@${ctx.approvedBy}>.` };
    },
  };
}

function statusTool(name: 'pause_schedule' | 'resume_schedule' | 'delete_schedule', store: ScheduleStore): ToolDefinition<z.infer<typeof idInput>> {
  const to = name === 'pause_schedule' ? 'paused' : name === 'resume_schedule' ? 'active' : 'deleted';
  const verb = name === 'pause_schedule' ? 'Pause' : name === 'resume_schedule' ? 'Resume' : 'Delete';
  const tool: ToolDefinition<z.infer<typeof idInput>> = {
    name,
    description: `${verb} a recurring run by its id (s-...).`,
    inputSchema: idInput,
    async prepare(input, ctx) {
      const s = await store.get(ctx.run.teamId, input.schedule_id);
      if (!s || s.status === 'deleted') throw new ToolError('schedule_not_found', `There is no schedule ${input.schedule_id}.`);
      return { task: s.task, cron: s.cron, timezone: s.timezone };
    },
    describe: (input, prepared) => ({
      summary: `${verb} schedule ${input.schedule_id}${typeof prepared['task'] === 'string' ? ` ("${prepared['task'].slice(0, 60)}")` : ''}`,
    }),
    async run(input, ctx) {
      const { previous } = await store.setStatus(ctx.run.teamId, input.schedule_id, to);
      return { content: `Schedule ${input.schedule_id} is now ${to} (was ${previous}).`, undoData: { previous } };
    },
  };
  if (name !== 'delete_schedule') {
    tool.undo = async (input, ctx) => {
      const previous = ctx.undoData['previous'];
      if (previous !== 'active' && previous !== 'paused') return { content: 'The previous state is unknown.', isError: true };
      await store.setStatus(ctx.run.teamId, input.schedule_id, previous);
      return { content: `Schedule ${input.schedule_id} is ${previous} again.` };
    };
  }
  return tool;
}

export const createPauseScheduleTool = (store: ScheduleStore) => statusTool('pause_schedule', store);
export const createResumeScheduleTool = (store: ScheduleStore) => statusTool('resume_schedule', store);
export const createDeleteScheduleTool = (store: ScheduleStore) => statusTool('delete_schedule', store);
