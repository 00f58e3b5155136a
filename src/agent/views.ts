import type { Db } from '../db/connection.js';
import { countPendingApprovals, getAction, listTurnActions } from '../db/repos/actions.js';
import { listMessages } from '../db/repos/messages.js';
import { getRun } from '../db/repos/runs.js';
import { getWorkspace } from '../db/repos/workspace.js';
import type { ToolRegistry } from '../tools/registry.js';
import { buildCardView, describeAction, reasoningOf } from './cards.js';
import { POLICY_ACTOR } from './dispatcher.js';
import { cacheSavedUsd } from './cacheSavings.js';
import type { QueueThresholds } from './policyContext.js';
import type { CardView, MessageViews, TaskView } from './surface.js';
import { getAcceptedDefinition } from '../db/repos/mcpDefinitions.js';
import { getTrustModes } from '../db/repos/workspace.js';
import { describeDefinitionChange } from '../tools/mcp/definition.js';
import { externalTrustOf } from './externalTrust.js';
import { decidersOf } from './deciders.js';
import { editsOf } from './editLog.js';
import { editableFields } from './edits.js';
import { countedApprovals, escalatedApprovers, requiredApprovals } from './approvalPolicy.js';

/** How many of a run's own steps the task message lists (the log has all of them). */
const PROGRESS_SHOWN = 8;

/** Tools whose effect is already visible elsewhere (a thread comment, the checklist): not listed twice. */
const SELF_EVIDENT = new Set(['comment_on_task', 'create_subtask', 'set_task_status']);

export interface ViewDeps {
  db: Db;
  registry: ToolRegistry;
  queue: QueueThresholds;
  /** The run's place in its workspace's queue for slots (read from the database: any instance's runs). */
  queuePosition(teamId: string, runId: string): Promise<number | undefined>;
}

/** Builds what Slack shows from the database, for the outbox to render at delivery time. */
export class AgentViews implements MessageViews {
  constructor(private readonly deps: ViewDeps) {}

  async task(runId: string): Promise<TaskView | undefined> {
    const { db, registry } = this.deps;
    const run = await getRun(db, runId);
    if (!run) return undefined;
    const actions = await db.selectFrom('actions').selectAll().where('run_id', '=', runId).orderBy('message_seq').orderBy('block_index').execute();
    const auto = actions.filter((a) => a.decided_by === POLICY_ACTOR && a.decision === 'run' && (a.status === 'succeeded' || a.status === 'failed') && !SELF_EVIDENT.has(a.tool));
    const progress = auto.slice(-PROGRESS_SHOWN).map((a) => ({ ok: a.status === 'succeeded', summary: describeAction(registry, a).summary }));
    const cardsElsewhere = actions
      .filter((a) => a.status === 'pending' && a.card_channel && a.card_ts && a.card_channel !== run.channel_id)
      .map((a) => ({ summary: describeAction(registry, a).summary, channel: a.card_channel as string, ts: a.card_ts as string }));
    const cacheSaved = run.turns > 0 ? await cacheSavedUsd(db, { runId }) : 0;
    return { run, queuePosition: await this.deps.queuePosition(run.team_id, run.id), progress, progressTotal: auto.length, cardsElsewhere, cacheSavedUsd: cacheSaved };
  }

  async card(actionId: string): Promise<CardView | undefined> {
    const { db, registry } = this.deps;
    const action = await getAction(db, actionId);
    if (!action) return undefined;
    const run = await getRun(db, action.run_id);
    if (!run) return undefined;
    const turn = await listTurnActions(db, run.id, action.message_seq);
    const message = (await listMessages(db, run.id)).find((m) => m.seq === action.message_seq);
    const notices = action.status === 'pending' ? [...(await this.pendingNotices(run.team_id)), ...(await this.externalNotices(run.team_id, action.tool))] : [];
    const { deciders, announce } = await decidersOf(db, registry, run, action.tool);
    const edit = (await editsOf(db, [action.id])).get(action.id);
    // Several approvers: only a card that is waiting or was approved shows them (a rejected or cancelled
    // one names who ended it), so closing a card costs no extra reads.
    const required = action.status === 'rejected' || action.status === 'cancelled' ? 1 : await requiredApprovals(db, action);
    const approvals = required > 1 ? { required, given: await countedApprovals(db, action, run) } : undefined;
    // After an escalation the card also names the backup approvers.
    const escalated = action.status === 'pending' && deciders ? await escalatedApprovers(db, action.id) : undefined;
    if (escalated && deciders) for (const k of ['users', 'groups'] as const) deciders[k] = [...new Set([...deciders[k], ...escalated[k]])];
    return {
      ...buildCardView({ registry, run, action, turn, reasoning: message ? reasoningOf(message.content) : undefined, notices, approvals }),
      deciders,
      announce,
      editable: editableFields(action.tool) !== undefined && registry.get(action.tool) !== undefined,
      edit,
    };
  }

  externalNotices(teamId: string, tool: string): Promise<string[]> {
    return externalNoticesFor(this.deps.db, this.deps.registry, teamId, tool);
  }

  /** Warnings a card shows while it waits: a disabled or paused workspace, a long approval queue. */
  async pendingNotices(teamId: string): Promise<string[]> {
    const notices = await workspaceNotices(this.deps.db, teamId);
    const pending = await countPendingApprovals(this.deps.db, teamId);
    if (pending >= this.deps.queue.warnAt) {
      notices.push(`The approval queue is long: ${pending} actions are waiting in this workspace (limit ${this.deps.queue.stopAt}).`);
    }
    return notices;
  }
}


/** What a pending MCP tool card must say on top: a definition changed since an admin trusted it. */
async function externalNoticesFor(db: Db, registry: ToolRegistry, teamId: string, toolName: string): Promise<string[]> {
  const tool = registry.get(toolName);
  if (!tool?.external) return [];
  const [modes, accepted] = await Promise.all([getTrustModes(db, teamId), getAcceptedDefinition(db, teamId, toolName)]);
  const trust = externalTrustOf(tool, modes, accepted);
  if (!trust?.definitionChanged) return [];
  const what = accepted?.definition ? describeDefinitionChange(accepted.definition, tool.external.definition).join('; ') : 'it is new since the server-wide setting';
  return [`The MCP server changed this tool since an admin trusted it (${trust.workspaceMode}), so it needs approval until an admin runs /agent tools accept ${toolName}. What changed: ${what}`];
}

export async function workspaceNotices(db: Db, teamId: string): Promise<string[]> {
  const workspace = await getWorkspace(db, teamId);
  const notices: string[] = [];
  if (workspace.disabled) notices.push(`The agent is disabled${workspace.disabledReason ? `: ${workspace.disabledReason}` : ''}. Decisions wait until an admin runs /agent enable.`);
  if (workspace.paused) notices.push(`Automation is paused${workspace.pausedReason ? `: ${workspace.pausedReason}` : ''}. Every action needs approval.`);
  return notices;
}
