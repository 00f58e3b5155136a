import type { TrustMode } from '../db/schema.js';
import type { ActionType } from './catalog.js';

/** Why a call needs a human; several can apply at once and the card explains each. */
export type AskReason = 'hard_floor' | 'unknown_tool' | 'configured' | 'definition_changed' | 'paused';

export type PolicyDecision =
  | { kind: 'run'; mode: 'full_auto' }
  | { kind: 'notify'; mode: 'auto_notify' }
  | { kind: 'ask'; mode: TrustMode; reasons: AskReason[]; queueWarning: boolean }
  | { kind: 'refuse'; reason: 'queue_full'; pending: number; stopAt: number };

export interface PolicyInput {
  /** The catalog entry, or undefined for a tool the catalog does not know (custom tools). */
  actionType: ActionType | undefined;
  /** The tool itself declares the hard floor (custom tools may). */
  toolDeclaresHardFloor: boolean;
  /** The workspace's setting for this action type, if an admin changed it. */
  workspaceMode: TrustMode | undefined;
  /**
   * An external tool whose definition changed since an admin set or accepted its (looser) mode: it asks
   * until an admin accepts the new definition (drift protection).
   */
  definitionChanged?: boolean;
  paused: boolean;
  /** Approval-required calls currently waiting in this workspace. */
  pendingApprovals: number;
  queue: { warnAt: number; stopAt: number };
}

/** The mode a call gets before pause and queue are considered: the floor can never be lowered. */
export function effectiveMode(input: Pick<PolicyInput, 'actionType' | 'toolDeclaresHardFloor' | 'workspaceMode' | 'definitionChanged'>): TrustMode {
  if (!input.actionType) return 'require_approval';
  if (input.actionType.hardFloor || input.toolDeclaresHardFloor) return 'require_approval';
  if (input.definitionChanged) return 'require_approval';
  return input.workspaceMode ?? input.actionType.defaultMode;
}

/**
 * The only place that decides what happens to a tool call. Pure: no I/O, no clock, so it can be tested
 * exhaustively and re-run by the dispatcher just before executing.
 */
export function decide(input: PolicyInput): PolicyDecision {
  const mode = effectiveMode(input);
  const reasons: AskReason[] = [];
  if (!input.actionType) reasons.push('unknown_tool');
  else if (input.actionType.hardFloor || input.toolDeclaresHardFloor) reasons.push('hard_floor');
  else if (input.definitionChanged) reasons.push('definition_changed');
  else if (mode === 'require_approval') reasons.push('configured');
  if (input.paused) reasons.push('paused');

  if (reasons.length === 0) {
    return mode === 'auto_notify' ? { kind: 'notify', mode } : { kind: 'run', mode: 'full_auto' };
  }
  if (input.pendingApprovals >= input.queue.stopAt) {
    return { kind: 'refuse', reason: 'queue_full', pending: input.pendingApprovals, stopAt: input.queue.stopAt };
  }
  return { kind: 'ask', mode, reasons, queueWarning: input.pendingApprovals >= input.queue.warnAt };
}

/** Whether an admin may set `mode` on an action type; the hard floor only ever allows approval. */
export function canSetMode(actionType: ActionType, mode: TrustMode): boolean {
  return !actionType.hardFloor || mode === 'require_approval';
}
