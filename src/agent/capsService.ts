import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { spendSince } from '../db/repos/modelCalls.js';
import { cacheSavedUsd } from './cacheSavings.js';
import { ensureWorkspace, getWorkspace, type WorkspaceView } from '../db/repos/workspace.js';
import type { Run } from '../db/schema.js';
import { AppError } from '../errors.js';
import { CAP_NAMES, checkCaps, type CapCheck, type CapName, type Caps, type CapUsage } from '../policy/caps.js';
import type { AdminCheck } from './admins.js';

const KEY: Record<CapName, keyof Caps> = { run: 'runUsd', 'user-day': 'userDayUsd', 'workspace-day': 'workspaceDayUsd', turns: 'turns' };

/** Spend caps: env defaults, per-workspace overrides set by admins, and per-run raises. */
export class CapsService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly admins: AdminCheck,
    private readonly defaults: Caps,
  ) {}

  /** `known`: the workspace row when the caller has just read it. */
  async capsFor(teamId: string, known?: WorkspaceView): Promise<Caps> {
    const w = known ?? (await getWorkspace(this.db, teamId));
    const out = { ...this.defaults };
    for (const name of CAP_NAMES) {
      const v = w.caps[name];
      if (typeof v === 'number' && Number.isFinite(v)) out[KEY[name]] = v;
    }
    return out;
  }

  private dayStart(): string {
    const d = new Date(this.clock.now());
    d.setUTCHours(0, 0, 0, 0);
    return d.toISOString();
  }

  async usage(run: Run): Promise<CapUsage> {
    const since = this.dayStart();
    const [userDayUsd, workspaceDayUsd] = await Promise.all([
      spendSince(this.db, run.team_id, since, run.requester_id),
      spendSince(this.db, run.team_id, since),
    ]);
    return { runUsd: run.spend_usd, turns: run.turns, userDayUsd, workspaceDayUsd };
  }

  /** The caps that apply to one run: its own raised limits win over the workspace's. */
  async check(run: Run, workspace?: WorkspaceView): Promise<CapCheck> {
    const caps = await this.capsFor(run.team_id, workspace);
    if (run.cost_cap_usd !== null) caps.runUsd = run.cost_cap_usd;
    if (run.max_turns !== null) caps.turns = run.max_turns;
    return checkCaps(await this.usage(run), caps);
  }

  async spendToday(teamId: string): Promise<number> {
    return spendSince(this.db, teamId, this.dayStart());
  }

  /** What prompt caching saved this workspace today (UTC day), next to its spend. */
  async cacheSavedToday(teamId: string): Promise<number> {
    return cacheSavedUsd(this.db, { teamId, sinceIso: this.dayStart() });
  }

  async set(teamId: string, userId: string, name: CapName, value: number): Promise<{ before: number; after: number }> {
    if (!(await this.admins.isAdmin(teamId, userId))) throw new AppError('not_allowed', 'Only admins can change caps.');
    if (!Number.isFinite(value) || value <= 0 || value > 100_000 || (name === 'turns' && !Number.isInteger(value))) {
      throw new AppError('bad_command', name === 'turns' ? 'The turn limit must be a whole number above 0.' : 'A cap must be a positive amount in USD, for example 2.50.');
    }
    const at = this.clock.now().toISOString();
    await ensureWorkspace(this.db, teamId, at);
    const w = await getWorkspace(this.db, teamId);
    const before = (await this.capsFor(teamId))[KEY[name]];
    await this.db.updateTable('workspace_state').set({ caps_json: JSON.stringify({ ...w.caps, [name]: value }), updated_at: at }).where('team_id', '=', teamId).execute();
    await appendActivity(this.db, { at, teamId, actor: userId, kind: 'cap_changed', detail: { cap: name, before, after: value } });
    return { before, after: value };
  }
}
