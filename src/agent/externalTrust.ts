import type { AcceptedDefinition } from '../db/repos/mcpDefinitions.js';
import type { TrustMode } from '../db/schema.js';
import { externalActionType, findActionType, type ActionType } from '../policy/catalog.js';
import { resolveExternalTrust, type ExternalTrust } from '../policy/external.js';
import { serverPattern } from '../tools/mcp/names.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolDefinition } from '../tools/types.js';

/** The catalog entry of a tool, or for an MCP tool the entry its server's hints give it. */
export function actionTypeFor(registry: ToolRegistry, name: string): ActionType | undefined {
  const known = findActionType(name);
  if (known) return known;
  const ext = registry.get(name)?.external;
  return ext ? externalActionType(name, ext.defaultMode, `Tool ${ext.remoteName} of the MCP server ${ext.server}`) : undefined;
}

/** How an MCP tool's mode is decided in one workspace: its own setting, its server's, the hints; drift. */
export function externalTrustOf(tool: ToolDefinition, modes: Map<string, TrustMode>, accepted: AcceptedDefinition | undefined): ExternalTrust | undefined {
  const ext = tool.external;
  if (!ext) return undefined;
  return resolveExternalTrust({
    toolMode: modes.get(tool.name),
    serverMode: modes.get(serverPattern(ext.server)),
    acceptedHash: accepted?.hash ?? undefined,
    currentHash: ext.definitionHash,
  });
}
