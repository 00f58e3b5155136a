import type { TrustMode } from '../db/schema.js';

/**
 * Trust for tools that come from outside the repository (MCP servers). Pure, like decide(): the facts
 * (settings, remembered definitions) are gathered elsewhere.
 */

/** MCP tool annotations. The MCP spec calls them hints from the server: untrusted. */
export interface ToolHints {
  readOnlyHint?: boolean | undefined;
  destructiveHint?: boolean | undefined;
  idempotentHint?: boolean | undefined;
  openWorldHint?: boolean | undefined;
}

/**
 * The default mode of an MCP tool. Only a tool its server calls read-only (and not destructive) runs on
 * its own; anything else, including a tool without annotations, asks a human. Absent hints count as the
 * spec's defaults: not read-only, destructive.
 */
export function defaultModeFromHints(hints: ToolHints | undefined): { mode: TrustMode; why: string } {
  if (!hints || (hints.readOnlyHint === undefined && hints.destructiveHint === undefined)) {
    return { mode: 'require_approval', why: 'no annotations: treated as able to change things' };
  }
  if (hints.readOnlyHint === true && hints.destructiveHint === true) {
    return { mode: 'require_approval', why: 'annotations say read-only but also destructive' };
  }
  if (hints.readOnlyHint === true) return { mode: 'full_auto', why: 'annotations say read-only (an unverified hint from the server)' };
  return { mode: 'require_approval', why: hints.destructiveHint === false ? 'annotations say it changes things (not read-only)' : 'annotations say it may change or delete things' };
}

/** Where a tool's mode comes from, for `/agent tools` and `/agent trust`. */
export type ExternalModeSource = 'annotations' | 'tool_setting' | 'server_setting';

export interface ExternalTrustInput {
  /** An admin's setting for this tool (`/agent trust <server>__<tool> <mode>`). */
  toolMode: TrustMode | undefined;
  /** An admin's setting for every tool of the server (`/agent trust <server>__* <mode>`). */
  serverMode: TrustMode | undefined;
  /** The definition an admin set or accepted the mode for, if any. */
  acceptedHash: string | undefined;
  /** The definition the server offers now. */
  currentHash: string;
}

export interface ExternalTrust {
  /** The admin's mode that applies (the tool's own wins over the server's), if any. */
  workspaceMode: TrustMode | undefined;
  source: ExternalModeSource;
  /**
   * The admin's mode lets calls run without a human, but the server changed the tool (or added it) since
   * an admin set or accepted that mode: the call asks until an admin accepts the new definition.
   */
  definitionChanged: boolean;
}

export function resolveExternalTrust(input: ExternalTrustInput): ExternalTrust {
  const workspaceMode = input.toolMode ?? input.serverMode;
  const source: ExternalModeSource = input.toolMode ? 'tool_setting' : input.serverMode ? 'server_setting' : 'annotations';
  // Asking is never weakened by a changed definition, so only looser modes depend on it.
  const definitionChanged = workspaceMode !== undefined && workspaceMode !== 'require_approval' && input.acceptedHash !== input.currentHash;
  return { workspaceMode, source, definitionChanged };
}
