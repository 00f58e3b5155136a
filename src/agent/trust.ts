import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { listTrustSettings, saveTrustSetting, type Approvers } from '../db/repos/trust.js';
import { getWorkspace, saveSettings, setDisabled, setPaused, settingsOf, type WorkspaceSettings, type WorkspaceView } from '../db/repos/workspace.js';
import type { Run, TrustMode } from '../db/schema.js';
import { code } from '../text/mrkdwn.js';
import { AppError } from '../errors.js';
import { CATALOG, findActionType, type ActionCategory } from '../policy/catalog.js';
import { canSetMode, effectiveMode } from '../policy/decide.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { AdminCheck } from './admins.js';
import { listAcceptedDefinitions, saveAcceptedDefinition } from '../db/repos/mcpDefinitions.js';
import { isServerPattern, serverOf, serverPattern } from '../tools/mcp/names.js';
import { actionTypeFor, externalTrustOf } from './externalTrust.js';
import { listApprovalRules } from '../db/repos/approvalRules.js';

/** Members of a Slack user group (approver restrictions may name groups). */
export interface GroupDirectory {
  members(teamId: string, groupId: string): Promise<string[]>;
}

export interface TrustRow {
  actionType: string;
  label: string;
  category: ActionCategory | 'custom';
  mode: TrustMode;
  defaultMode: TrustMode;
  hardFloor: boolean;
  reversible: boolean;
  offered: boolean;
  approvers: Approvers | null;
}

export interface TrustView {
  rows: TrustRow[];
  settings: WorkspaceSettings;
  paused: boolean;
  pausedReason: string | null;
  defaultRoute: string | undefined;
}

export interface TrustDeps {
  db: Db;
  clock: Clock;
  admins: AdminCheck;
  registry: ToolRegistry;
  groups: GroupDirectory;
  approvalsChannel: string | undefined;
}

export type ApproverCheck = { ok: true } | { ok: false; why: string };

/**
 * Workspace trust settings: per-action modes, who may approve, self-approval, card routing and pause.
 * Every change is made by an admin through a slash command and logged with before and after.
 */
export class TrustService {
  constructor(private readonly deps: TrustDeps) {}

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  async requireAdmin(teamId: string, userId: string, what: string): Promise<void> {
    if (!(await this.deps.admins.isAdmin(teamId, userId))) {
      throw new AppError('not_allowed', `Only admins can ${what}. Admins are the users in ADMIN_USER_IDS and Slack workspace admins and owners.`);
    }
  }

  async view(teamId: string): Promise<TrustView> {
    const [settings, workspace, accepted] = await Promise.all([listTrustSettings(this.deps.db, teamId), getWorkspace(this.deps.db, teamId), listAcceptedDefinitions(this.deps.db, teamId)]);
    const names = new Set([...CATALOG.map((a) => a.name), ...this.deps.registry.names()]);
    const modes = new Map([...settings.values()].flatMap((s) => (s.mode ? [[s.actionType, s.mode] as const] : [])));
    const rows: TrustRow[] = [...names].map((name) => {
      const tool = this.deps.registry.get(name);
      if (tool?.external) {
        // An MCP tool: its own setting, else its server's, else its hints; a changed definition asks.
        const type = actionTypeFor(this.deps.registry, name)!;
        const trust = externalTrustOf(tool, modes, accepted.get(name))!;
        return {
          actionType: name,
          label: type.label,
          category: type.category,
          mode: effectiveMode({ actionType: type, toolDeclaresHardFloor: false, workspaceMode: trust.workspaceMode, definitionChanged: trust.definitionChanged }),
          defaultMode: type.defaultMode,
          hardFloor: false,
          reversible: false,
          offered: true,
          approvers: settings.get(name)?.approvers ?? settings.get(serverPattern(tool.external.server))?.approvers ?? null,
        };
      }
      const type = findActionType(name);
      const s = settings.get(name);
      const declares = this.deps.registry.get(name)?.hardFloor === true;
      return {
        actionType: name,
        label: type?.label ?? 'Custom tool',
        category: type?.category ?? 'custom',
        mode: effectiveMode({ actionType: type, toolDeclaresHardFloor: declares, workspaceMode: s?.mode ?? undefined }),
        defaultMode: type?.defaultMode ?? 'require_approval',
        hardFloor: (type?.hardFloor ?? false) || declares,
        reversible: type?.reversible ?? false,
        offered: this.deps.registry.get(name) !== undefined,
        approvers: s?.approvers ?? null,
      };
    });
    // Server-wide MCP settings (`<server>__*`) are rows of their own.
    for (const source of this.deps.registry.sources()) {
      const pattern = serverPattern(source.name);
      const s = settings.get(pattern);
      if (!s?.mode && !s?.approvers) continue;
      rows.push({
        actionType: pattern,
        label: `Every tool of the MCP server ${source.name} without its own setting`,
        category: 'external',
        mode: s.mode ?? 'require_approval',
        defaultMode: 'require_approval',
        hardFloor: false,
        reversible: false,
        offered: source.state === 'connected',
        approvers: s.approvers ?? null,
      });
    }
    return { rows, settings: settingsOf(workspace), paused: workspace.paused, pausedReason: workspace.pausedReason, defaultRoute: this.deps.approvalsChannel };
  }

  private knownAction(action: string): void {
    if (isServerPattern(action)) {
      if (this.deps.registry.source(serverOf(action)!)) return;
      throw new AppError('bad_command', `${code(serverOf(action)!).value} is not an MCP server in MCP_CONFIG. \`/agent tools\` lists the servers.`);
    }
    if (!findActionType(action) && !this.deps.registry.get(action)) {
      throw new AppError('bad_command', `${code(action).value} is not an action type. Known: ${CATALOG.map((a) => code(a.name).value).join(', ')}.`);
    }
  }

  async setMode(teamId: string, userId: string, action: string, mode: TrustMode): Promise<{ before: TrustMode; after: TrustMode; overriddenBy?: string[] }> {
    await this.requireAdmin(teamId, userId, 'change trust levels');
    this.knownAction(action);
    if (isServerPattern(action) || this.deps.registry.get(action)?.external) return this.setExternalMode(teamId, userId, action, mode);
    const type = findActionType(action);
    const declares = this.deps.registry.get(action)?.hardFloor === true;
    if ((type && !canSetMode(type, mode)) || (declares && mode !== 'require_approval')) {
      throw new AppError(
        'policy_forbids',
        `\`${action}\` always requires approval: it reaches people or systems outside this workspace (the hard floor). No setting can lower it.`,
      );
    }
    // Several approvers are required so that no one person decides alone: one admin cannot undo that by
    // letting the action run on its own; the rule is lowered first (`approvals 1`), which is logged.
    const several = (await listApprovalRules(this.deps.db, teamId)).get(action)?.approvals ?? 1;
    if (mode !== 'require_approval' && several > 1) {
      throw new AppError('policy_forbids', `\`${action}\` needs ${several} approvers (\`/agent trust ${action} approvals ${several}\`). Set \`/agent trust ${action} approvals 1\` first if it should run without approval.`);
    }
    const current = (await listTrustSettings(this.deps.db, teamId)).get(action);
    const before = effectiveMode({ actionType: type, toolDeclaresHardFloor: declares, workspaceMode: current?.mode ?? undefined });
    const at = this.now();
    await this.deps.db.transaction().execute(async (trx) => {
      await saveTrustSetting(trx, { teamId, actionType: action, mode, updatedBy: userId, at });
      await appendActivity(trx, { at, teamId, actor: userId, kind: 'trust_changed', detail: { actionType: action, before, after: mode } });
    });
    return { before, after: mode };
  }

  /**
   * An MCP tool's mode, or every tool of a server (`<server>__*`). The definitions the server offers now
   * are remembered with it: if the server changes a tool later, the tool asks again until an admin
   * accepts the new definition (drift protection).
   */
  private async setExternalMode(teamId: string, userId: string, action: string, mode: TrustMode): Promise<{ before: TrustMode; after: TrustMode; overriddenBy?: string[] }> {
    const { registry, db } = this.deps;
    const pattern = isServerPattern(action);
    const tools = pattern ? registry.toolsOf(serverOf(action)!) : [registry.get(action)!];
    const [settings, accepted] = await Promise.all([listTrustSettings(db, teamId), listAcceptedDefinitions(db, teamId)]);
    const modes = new Map([...settings.values()].flatMap((s) => (s.mode ? [[s.actionType, s.mode] as const] : [])));
    let before: TrustMode;
    if (pattern) before = modes.get(action) ?? 'require_approval';
    else {
      const tool = tools[0]!;
      const trust = externalTrustOf(tool, modes, accepted.get(tool.name))!;
      before = effectiveMode({ actionType: actionTypeFor(registry, tool.name), toolDeclaresHardFloor: false, workspaceMode: trust.workspaceMode, definitionChanged: trust.definitionChanged });
    }
    const at = this.now();
    await db.transaction().execute(async (trx) => {
      await saveTrustSetting(trx, { teamId, actionType: action, mode, updatedBy: userId, at });
      for (const t of tools) {
        await saveAcceptedDefinition(trx, { teamId, tool: t.name, hash: t.external!.definitionHash, definition: t.external!.definition, by: userId, at });
      }
      await appendActivity(trx, {
        at,
        teamId,
        actor: userId,
        kind: 'trust_changed',
        detail: { actionType: action, before, after: mode, definitions: tools.map((t) => ({ tool: t.name, hash: t.external!.definitionHash })) },
      });
    });
    const overriddenBy = pattern ? tools.filter((t) => modes.has(t.name)).map((t) => t.name) : [];
    return { before, after: mode, ...(overriddenBy.length ? { overriddenBy } : {}) };
  }

  async setApprovers(teamId: string, userId: string, action: string, approvers: Approvers | null): Promise<void> {
    await this.requireAdmin(teamId, userId, 'restrict approvers');
    this.knownAction(action);
    const before = (await listTrustSettings(this.deps.db, teamId)).get(action)?.approvers ?? null;
    const at = this.now();
    await this.deps.db.transaction().execute(async (trx) => {
      await saveTrustSetting(trx, { teamId, actionType: action, approvers, updatedBy: userId, at });
      await appendActivity(trx, { at, teamId, actor: userId, kind: 'approvers_changed', detail: { actionType: action, before, after: approvers } });
    });
  }

  async setSelfApproval(teamId: string, userId: string, allowed: boolean): Promise<void> {
    await this.requireAdmin(teamId, userId, 'change self-approval');
    const at = this.now();
    const before = settingsOf(await getWorkspace(this.deps.db, teamId)).selfApproval;
    await saveSettings(this.deps.db, teamId, { selfApproval: allowed }, at);
    await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'self_approval_changed', detail: { before, after: allowed } });
  }

  /** Whether replies from people other than the requester reach a run as labelled context (never as instructions). */
  async setOthersReplies(teamId: string, userId: string, mode: 'ignore' | 'context'): Promise<void> {
    await this.requireAdmin(teamId, userId, "change what other people's replies do");
    const at = this.now();
    const before = settingsOf(await getWorkspace(this.deps.db, teamId)).othersReplies;
    await saveSettings(this.deps.db, teamId, { othersReplies: mode }, at);
    await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'others_replies_changed', detail: { before, after: mode } });
  }

  /** Whether the cards of an action type mention their deciders (off for a busy approvals channel). */
  async setCardMentions(teamId: string, userId: string, action: string, on: boolean): Promise<void> {
    await this.requireAdmin(teamId, userId, 'change who cards mention');
    this.knownAction(action);
    const at = this.now();
    const before = settingsOf(await getWorkspace(this.deps.db, teamId)).quietCards;
    const after = on ? before.filter((a) => a !== action) : [...new Set([...before, action])];
    await saveSettings(this.deps.db, teamId, { quietCards: after }, at);
    await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'card_mentions_changed', detail: { actionType: action, before: !before.includes(action), after: on } });
  }

  /** Whether a card in a task thread is also shown in the channel. */
  async setAnnounceCards(teamId: string, userId: string, on: boolean): Promise<void> {
    await this.requireAdmin(teamId, userId, 'change whether thread cards are announced in the channel');
    const at = this.now();
    const before = settingsOf(await getWorkspace(this.deps.db, teamId)).announceCards;
    await saveSettings(this.deps.db, teamId, { announceCards: on }, at);
    await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'announce_cards_changed', detail: { before, after: on } });
  }

  async setRoute(teamId: string, userId: string, route: string): Promise<void> {
    await this.requireAdmin(teamId, userId, 'change where approval cards go');
    const at = this.now();
    const before = settingsOf(await getWorkspace(this.deps.db, teamId)).route ?? null;
    await saveSettings(this.deps.db, teamId, { route }, at);
    await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'route_changed', detail: { before, after: route } });
  }

  async setDigest(teamId: string, userId: string, hour: number, timezone: string | undefined): Promise<void> {
    await this.requireAdmin(teamId, userId, 'change the digest time');
    const at = this.now();
    await saveSettings(this.deps.db, teamId, { digestHour: hour, ...(timezone ? { digestTimezone: timezone } : {}) }, at);
    await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'digest_changed', detail: { hour, timezone } });
  }

  async pause(teamId: string, userId: string, reason: string | null): Promise<boolean> {
    await this.requireAdmin(teamId, userId, 'pause automation');
    const at = this.now();
    const changed = await setPaused(this.deps.db, teamId, { by: userId, reason }, at);
    if (changed) await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'paused', detail: { reason } });
    return changed;
  }

  async unpause(teamId: string, userId: string): Promise<boolean> {
    await this.requireAdmin(teamId, userId, 'unpause automation');
    const at = this.now();
    const changed = await setPaused(this.deps.db, teamId, null, at);
    if (changed) await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'unpaused', detail: {} });
    return changed;
  }

  async disable(teamId: string, userId: string, reason: string | null): Promise<boolean> {
    await this.requireAdmin(teamId, userId, 'disable the agent');
    const at = this.now();
    const changed = await setDisabled(this.deps.db, teamId, { by: userId, reason }, at);
    if (changed) await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'disabled', detail: { reason } });
    return changed;
  }

  async enable(teamId: string, userId: string): Promise<boolean> {
    await this.requireAdmin(teamId, userId, 'enable the agent');
    const at = this.now();
    const changed = await setDisabled(this.deps.db, teamId, null, at);
    if (changed) await appendActivity(this.deps.db, { at, teamId, actor: userId, kind: 'enabled', detail: {} });
    return changed;
  }

  /** Where the cards of a workspace go: its route setting, else APPROVALS_CHANNEL, else the thread. */
  async routeFor(teamId: string): Promise<string | undefined> {
    const route = settingsOf(await getWorkspace(this.deps.db, teamId)).route;
    if (route === 'thread') return undefined;
    return route ?? this.deps.approvalsChannel;
  }

  /**
   * Whether `userId` may decide a card for `action` of `run`; `escalated`: backup approvers added to this
   * card; `workspace`: the run's workspace row when the caller has just read it.
   */
  async canApprove(run: Run, action: string, userId: string, escalated?: Approvers, workspace?: WorkspaceView): Promise<ApproverCheck> {
    workspace ??= await getWorkspace(this.deps.db, run.team_id);
    if (!settingsOf(workspace).selfApproval && run.requester_id === userId) {
      return { ok: false, why: 'Self-approval is turned off in this workspace: someone other than the requester must decide.' };
    }
    const settings = await listTrustSettings(this.deps.db, run.team_id);
    const server = this.deps.registry.get(action)?.external?.server;
    // An MCP tool without approvers of its own takes its server's (`<server>__*`).
    const approvers = settings.get(action)?.approvers ?? (server ? settings.get(serverPattern(server))?.approvers : undefined);
    if (!approvers || (approvers.users.length === 0 && approvers.groups.length === 0)) return { ok: true };
    if (approvers.users.includes(userId) || escalated?.users.includes(userId)) return { ok: true };
    for (const g of [...approvers.groups, ...(escalated?.groups ?? [])]) {
      try {
        if ((await this.deps.groups.members(run.team_id, g)).includes(userId)) return { ok: true };
      } catch {
        // A group we cannot read grants nothing.
      }
    }
    const who = [...approvers.users.map((u) => `<@${u}>`), ...approvers.groups.map((g) => `<!subteam^${g}>`)].join(', ');
    return { ok: false, why: `Only ${who} may approve \`${action}\` in this workspace.` };
  }
}
