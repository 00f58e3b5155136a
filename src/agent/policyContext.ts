import type { Db } from '../db/connection.js';
import { countPendingApprovals } from '../db/repos/actions.js';
import { getTrustModes, getWorkspace, type WorkspaceView } from '../db/repos/workspace.js';
import { findActionType } from '../policy/catalog.js';
import { getAcceptedDefinition } from '../db/repos/mcpDefinitions.js';
import { actionTypeFor, externalTrustOf } from './externalTrust.js';
import { decide, type PolicyDecision, type PolicyInput } from '../policy/decide.js';
import type { ToolRegistry } from '../tools/registry.js';

export interface QueueThresholds {
  warnAt: number;
  stopAt: number;
}

/** Gathers the facts decide() needs for one call; the decision itself stays pure. */
export async function policyInputFor(
  db: Db,
  registry: ToolRegistry,
  queue: QueueThresholds,
  teamId: string,
  tool: string,
  /** The workspace row when the caller already read it in the same transaction. */
  known?: WorkspaceView,
): Promise<PolicyInput> {
  const external = registry.get(tool)?.external ? registry.get(tool) : undefined;
  const [workspace, modes, pending, accepted] = await Promise.all([
    known ?? getWorkspace(db, teamId),
    getTrustModes(db, teamId),
    countPendingApprovals(db, teamId),
    external ? getAcceptedDefinition(db, teamId, tool) : undefined,
  ]);
  if (external) {
    // An MCP tool: default from its server's hints, an admin's setting for it or its server, drift.
    const trust = externalTrustOf(external, modes, accepted);
    return {
      actionType: actionTypeFor(registry, tool),
      toolDeclaresHardFloor: false,
      workspaceMode: trust?.workspaceMode,
      definitionChanged: trust?.definitionChanged ?? false,
      paused: workspace.paused,
      pendingApprovals: pending,
      queue,
    };
  }
  return {
    actionType: findActionType(tool),
    toolDeclaresHardFloor: registry.get(tool)?.hardFloor === true,
    workspaceMode: modes.get(tool),
    paused: workspace.paused,
    pendingApprovals: pending,
    queue,
  };
}

export async function decideFor(
  db: Db,
  registry: ToolRegistry,
  queue: QueueThresholds,
  teamId: string,
  tool: string,
  known?: WorkspaceView,
): Promise<PolicyDecision> {
  return decide(await policyInputFor(db, registry, queue, teamId, tool, known));
}
