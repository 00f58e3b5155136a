import { randomToken } from '../ids.js';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { claimFiring, getSchedule, insertSchedule, listSchedules, setScheduleStatus, type Schedule } from '../db/repos/schedules.js';
import { getWorkspace } from '../db/repos/workspace.js';
import { AppError, errorMessage, ToolError } from '../errors.js';
import type { ScheduleStore } from '../tools/schedules.js';
import { CronError, describeCron, isTimeZone, matches, minuteKey, nextFireTimes, parseCron } from './cron.js';
import type { RunEngine } from './engine.js';

function scheduleId(): string {
  return `s-${randomToken(7)}`;
}

function fmt(d: Date, tz: string): string {
  return `${new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d)} ${tz}`;
}

/**
 * Recurring runs, persisted in `schedules`. Each minute `tick` starts the runs that are due; the
 * claim on last_fired_minute makes a firing happen once, even across a restart.
 */
export class Scheduler implements ScheduleStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** A getter: the engine is built after the tools, and the schedule tools need this store. */
    private readonly engineRef: () => RunEngine,
  ) {}

  private get engine(): RunEngine {
    return this.engineRef();
  }

  explain(cron: string, timezone: string): { description: string; next: string[] } {
    if (!isTimeZone(timezone)) throw new ToolError('invalid_timezone', `"${timezone}" is not a time zone (use an IANA name such as Europe/Paris).`);
    try {
      parseCron(cron);
    } catch (err) {
      if (err instanceof CronError) throw new ToolError('invalid_cron', `Invalid cron expression: ${err.message}.`);
      throw err;
    }
    return { description: describeCron(cron, timezone), next: nextFireTimes(cron, timezone, this.clock.now(), 3).map((d) => fmt(d, timezone)) };
  }

  async create(input: { teamId: string; channelId: string; ownerId: string; cron: string; timezone: string; task: string; runId: string }): Promise<{ id: string }> {
    this.explain(input.cron, input.timezone);
    const at = this.clock.now().toISOString();
    const id = scheduleId();
    await insertSchedule(this.db, {
      id,
      team_id: input.teamId,
      channel_id: input.channelId,
      owner_id: input.ownerId,
      cron: input.cron,
      timezone: input.timezone,
      task: input.task,
      status: 'active',
      created_by_run_id: input.runId,
      // Not due in the minute it was created: the first firing is the next matching minute.
      last_fired_minute: minuteKey(this.clock.now()),
      created_at: at,
      updated_at: at,
    });
    await appendActivity(this.db, { at, teamId: input.teamId, runId: input.runId, actor: input.ownerId, kind: 'schedule_created', detail: { scheduleId: id, cron: input.cron, timezone: input.timezone } });
    return { id };
  }

  async get(teamId: string, id: string): Promise<Schedule | undefined> {
    const s = await getSchedule(this.db, id);
    return s && s.team_id === teamId ? s : undefined;
  }

  async list(teamId: string): Promise<Array<Schedule & { description: string; next: string | undefined }>> {
    return (await listSchedules(this.db, teamId)).map((s) => {
      let description = s.cron;
      let next: string | undefined;
      try {
        description = describeCron(s.cron, s.timezone);
        const n = nextFireTimes(s.cron, s.timezone, this.clock.now(), 1)[0];
        next = n ? fmt(n, s.timezone) : undefined;
      } catch {
        // A stored schedule that no longer parses is still listed so an admin can delete it.
      }
      return { ...s, description, next };
    });
  }

  /** What `/agent schedules` shows: the channel's own schedules, or every channel's for admins. */
  async listVisible(teamId: string, channelId: string, allChannels: boolean): Promise<Array<Schedule & { description: string; next: string | undefined }>> {
    const all = await this.list(teamId);
    return allChannels ? all : all.filter((s) => s.channel_id === channelId);
  }

  async setStatus(teamId: string, id: string, status: 'active' | 'paused' | 'deleted', actor = 'agent'): Promise<{ previous: string }> {
    const s = await this.get(teamId, id);
    if (!s || s.status === 'deleted') throw new ToolError('schedule_not_found', `There is no schedule ${id}.`);
    const at = this.clock.now().toISOString();
    const from = (['active', 'paused'] as const).filter((x) => x !== status);
    if (s.status !== status && !(await setScheduleStatus(this.db, id, [...from], status, at))) {
      throw new ToolError('schedule_changed', `Schedule ${id} changed at the same time; try again.`);
    }
    await appendActivity(this.db, { at, teamId, actor, kind: `schedule_${status === 'active' ? 'resumed' : status}`, detail: { scheduleId: id, previous: s.status } });
    return { previous: s.status };
  }

  /** Admin controls from `/agent schedules` (the tools go through approval instead). */
  async adminSetStatus(teamId: string, id: string, status: 'paused' | 'deleted' | 'active', userId: string): Promise<void> {
    try {
      await this.setStatus(teamId, id, status, userId);
    } catch (err) {
      if (err instanceof ToolError) throw new AppError('invalid_state', err.message);
      throw err;
    }
  }

  /** Starts every schedule due in `now`'s minute. Returns the run ids started. */
  async tick(now: Date = this.clock.now()): Promise<string[]> {
    const minute = minuteKey(now);
    const started: string[] = [];
    for (const s of await listSchedules(this.db)) {
      if (s.status !== 'active') continue;
      let due = false;
      try {
        due = matches(parseCron(s.cron), now, s.timezone);
      } catch {
        due = false;
      }
      if (!due || !(await claimFiring(this.db, s.id, minute, now.toISOString()))) continue;
      try {
        const runId = await this.fire(s);
        if (runId) started.push(runId);
      } catch (err) {
        this.logger.warn({ err: errorMessage(err), scheduleId: s.id }, 'scheduled run could not start');
      }
    }
    return started;
  }

  private async fire(s: Schedule): Promise<string | undefined> {
    const at = this.clock.now().toISOString();
    if ((await getWorkspace(this.db, s.team_id)).disabled) {
      await appendActivity(this.db, { at, teamId: s.team_id, actor: 'system', kind: 'schedule_skipped', detail: { scheduleId: s.id, reason: 'agent disabled' } });
      return undefined;
    }
    const run = await this.engine.startRun({
      teamId: s.team_id,
      channelId: s.channel_id,
      requesterId: s.owner_id,
      task: s.task,
      extraContext: `This is a scheduled run (schedule ${s.id}, ${describeCron(s.cron, s.timezone)}).`,
    });
    await appendActivity(this.db, { at, teamId: s.team_id, runId: run.id, actor: 'system', kind: 'schedule_fired', detail: { scheduleId: s.id } });
    void this.engine.kick(run.id);
    return run.id;
  }
}
