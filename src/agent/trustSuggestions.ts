import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { closeSuggestion, decisionCounts, listSuggestionRecords, markOffered, trustSettingVersion, type SuggestionRecord } from '../db/repos/trustSuggestions.js';
import type { TrustMode } from '../db/schema.js';
import { AppError } from '../errors.js';
import { findActionType } from '../policy/catalog.js';
import { isServerPattern } from '../tools/mcp/names.js';
import type { AdminCheck } from './admins.js';
import type { TrustRow, TrustService } from './trust.js';
import { listApprovalRules } from '../db/repos/approvalRules.js';

/**
 * When an approval has become a formality: at least `minApprovals` calls approved within `windowDays`,
 * none rejected, none edited. A suggestion that was applied, dismissed or put in a digest is not made
 * again for `quietDays` (then, if it still holds, it comes back once).
 */
export const SUGGESTION_RULES = { minApprovals: 20, windowDays: 30, quietDays: 30 } as const;

const DAY_MS = 86_400_000;

export interface TrustSuggestion {
  actionType: string;
  label: string;
  /** Calls approved in the window (all of the decided ones: a rejection rules a suggestion out). */
  approved: number;
  /** The action type's own trust setting when the suggestion was made: a button on an older one is stale. */
  basis: string;
}

/** What a suggestion's buttons carry. */
export const suggestionButtonSchema = z.object({ t: z.string().min(1).max(200), b: z.string().max(100) });
export type SuggestionButton = z.infer<typeof suggestionButtonSchema>;

export function suggestionButtonValue(s: Pick<TrustSuggestion, 'actionType' | 'basis'>): string {
  return JSON.stringify({ t: s.actionType, b: s.basis } satisfies SuggestionButton);
}

export type SuggestionOutcome =
  | { outcome: 'applied'; actionType: string; before: TrustMode }
  | { outcome: 'dismissed'; actionType: string }
  /** The trust of the action type changed since the suggestion was made (or it no longer applies): nothing done. */
  | { outcome: 'stale'; actionType: string; mode: TrustMode | undefined };

/**
 * The suggestions that hold for a workspace now, given its trust table: action types that still require
 * approval, are not on the hard floor (the catalog's list and tools that declare it) and were approved
 * often enough, never rejected and never edited within the window. Closed ones (applied, dismissed)
 * are left out during their quiet period.
 */
export async function trustSuggestions(db: Db, teamId: string, now: Date, rows: readonly TrustRow[]): Promise<TrustSuggestion[]> {
  const since = new Date(now.getTime() - SUGGESTION_RULES.windowDays * DAY_MS).toISOString();
  const quietSince = new Date(now.getTime() - SUGGESTION_RULES.quietDays * DAY_MS).toISOString();
  const counts = new Map((await decisionCounts(db, teamId, since)).map((c) => [c.tool, c]));
  const records = await listSuggestionRecords(db, teamId);
  // An action type that needs several approvers is kept that way on purpose: never suggest dropping it.
  const rules = await listApprovalRules(db, teamId);
  const out: TrustSuggestion[] = [];
  for (const row of rows) {
    if (!eligible(row) || (rules.get(row.actionType)?.approvals ?? 1) > 1) continue;
    const c = counts.get(row.actionType);
    if (!c || c.approved < SUGGESTION_RULES.minApprovals || c.rejected > 0 || c.edited > 0) continue;
    if (closedRecently(records.get(row.actionType), quietSince)) continue;
    out.push({ actionType: row.actionType, label: row.label, approved: c.approved, basis: await trustSettingVersion(db, teamId, row.actionType) });
  }
  return out.sort((a, b) => b.approved - a.approved || a.actionType.localeCompare(b.actionType));
}

/**
 * Still asking, not on the hard floor (the row's flag covers the catalog and tools declaring it; the catalog
 * is checked again by name), and a tool whose mode a setting can lower: not an uncategorised custom tool
 * (those always ask) and not a server-wide MCP pattern (suggestions are per tool).
 */
function eligible(row: TrustRow): boolean {
  if (row.mode !== 'require_approval' || row.hardFloor || findActionType(row.actionType)?.hardFloor === true) return false;
  return row.category !== 'custom' && !isServerPattern(row.actionType);
}

function closedRecently(r: SuggestionRecord | undefined, quietSince: string): boolean {
  return r?.closedAt != null && r.closedAt >= quietSince;
}

export interface TrustSuggestionDeps {
  db: Db;
  clock: Clock;
  trust: TrustService;
  admins: AdminCheck;
}

/** Suggestions for admins (daily digest, App Home) and their two buttons: apply `auto_notify`, or dismiss. */
export class TrustSuggestions {
  constructor(private readonly deps: TrustSuggestionDeps) {}

  /** The suggestions that hold now (App Home shows them until they are applied or dismissed). */
  async list(teamId: string): Promise<TrustSuggestion[]> {
    const view = await this.deps.trust.view(teamId);
    return trustSuggestions(this.deps.db, teamId, this.deps.clock.now(), view.rows);
  }

  /** Those a digest may carry: not already offered in one within the quiet period. */
  async forDigest(teamId: string): Promise<TrustSuggestion[]> {
    const quietSince = new Date(this.deps.clock.now().getTime() - SUGGESTION_RULES.quietDays * DAY_MS).toISOString();
    const records = await listSuggestionRecords(this.deps.db, teamId);
    return (await this.list(teamId)).filter((s) => !(records.get(s.actionType)?.offeredAt && records.get(s.actionType)!.offeredAt! >= quietSince));
  }

  /** Called in the digest's transaction, so "offered" is recorded exactly when the digest is queued. */
  async markOffered(trx: Db, teamId: string, suggestions: readonly TrustSuggestion[]): Promise<void> {
    await markOffered(trx, teamId, suggestions.map((s) => s.actionType), this.deps.clock.now().toISOString());
  }

  /**
   * "Run it with a notice": admins only (anyone else is refused, logged, and nothing changes). The trust
   * change itself goes through TrustService (hard floor refused there too, logged as trust_changed).
   */
  async apply(teamId: string, userId: string, button: SuggestionButton): Promise<SuggestionOutcome> {
    await this.requireAdmin(teamId, userId, button.t, 'apply');
    const current = await this.current(teamId, button);
    if (current.stale) return { outcome: 'stale', actionType: button.t, mode: current.mode };
    const { before } = await this.deps.trust.setMode(teamId, userId, button.t, 'auto_notify');
    const at = this.deps.clock.now().toISOString();
    await this.deps.db.transaction().execute(async (trx) => {
      await closeSuggestion(trx, teamId, button.t, 'applied', userId, at);
      await appendActivity(trx, { at, teamId, actor: userId, kind: 'trust_suggestion_applied', detail: { actionType: button.t, before, after: 'auto_notify' } });
    });
    return { outcome: 'applied', actionType: button.t, before };
  }

  /** "Keep asking": admins only; not suggested again for the quiet period. */
  async dismiss(teamId: string, userId: string, button: SuggestionButton): Promise<SuggestionOutcome> {
    await this.requireAdmin(teamId, userId, button.t, 'dismiss');
    const at = this.deps.clock.now().toISOString();
    await this.deps.db.transaction().execute(async (trx) => {
      await closeSuggestion(trx, teamId, button.t, 'dismissed', userId, at);
      await appendActivity(trx, { at, teamId, actor: userId, kind: 'trust_suggestion_dismissed', detail: { actionType: button.t } });
    });
    return { outcome: 'dismissed', actionType: button.t };
  }

  private async requireAdmin(teamId: string, userId: string, actionType: string, what: 'apply' | 'dismiss'): Promise<void> {
    if (await this.deps.admins.isAdmin(teamId, userId)) return;
    await appendActivity(this.deps.db, { at: this.deps.clock.now().toISOString(), teamId, actor: userId, kind: 'trust_suggestion_refused', detail: { actionType, what, why: 'not_admin' } });
    throw new AppError('not_allowed', 'Only admins can act on trust suggestions. Admins are the users in ADMIN_USER_IDS and Slack workspace admins and owners. Nothing was changed.');
  }

  /** Whether the button still describes the action type's trust: same setting, still asking, not on the floor. */
  private async current(teamId: string, button: SuggestionButton): Promise<{ stale: boolean; mode: TrustMode | undefined }> {
    const row = (await this.deps.trust.view(teamId)).rows.find((r) => r.actionType === button.t);
    if (!row || !eligible(row)) return { stale: true, mode: row?.mode };
    return { stale: (await trustSettingVersion(this.deps.db, teamId, button.t)) !== button.b, mode: row.mode };
  }
}
