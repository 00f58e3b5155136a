import { actionPrepared, actionResult } from '../db/repos/actions.js';
import type { StoredBlock } from '../db/repos/messages.js';
import type { Action, Run } from '../db/schema.js';
import type { ToolRegistry } from '../tools/registry.js';
import { actionTypeFor } from './externalTrust.js';
import type { CallDescription } from '../tools/types.js';
import type { CardState, CardView } from './surface.js';
import { EXPIRY_ACTOR } from './approvalPolicy.js';

/** Plain words for one call, from the tool itself; a tool that is gone still gets an honest line. */
export function describeAction(registry: ToolRegistry, action: Action): CallDescription {
  const input: unknown = JSON.parse(action.input_json);
  const tool = registry.get(action.tool);
  if (tool) {
    const parsed = tool.inputSchema.safeParse(input);
    if (parsed.success) return tool.describe(parsed.data, actionPrepared(action));
  }
  return { summary: `Run ${action.tool}`, content: JSON.stringify(input, null, 2), contentLabel: 'Input' };
}

/** The card's state is derived from the stored action, so any process can re-render any card. */
export function cardStateOf(action: Action, waitingFor = 0): CardState {
  switch (action.status) {
    case 'pending':
      return { kind: 'pending' };
    case 'approved':
      return { kind: 'approved', by: action.decided_by ?? 'unknown', at: action.decided_at ?? '', waitingFor };
    case 'rejected':
      if (action.decided_by === EXPIRY_ACTOR) return { kind: 'expired', at: action.decided_at ?? '' };
      return { kind: 'rejected', by: action.decided_by ?? 'unknown', at: action.decided_at ?? '', note: action.decision_note };
    case 'cancelled':
      return { kind: 'cancelled', reason: action.decision_note ?? 'The run was cancelled.' };
    case 'dispatching':
      return { kind: 'approved', by: action.decided_by ?? 'unknown', at: action.decided_at ?? '', waitingFor: 0 };
    case 'succeeded':
    case 'failed': {
      const result = actionResult(action);
      return {
        kind: 'done',
        by: action.decided_by ?? 'unknown',
        at: action.decided_at ?? '',
        ok: action.status === 'succeeded',
        resultSummary: result ? result.content.slice(0, 300) : '',
      };
    }
    case 'outcome_unknown':
      return { kind: 'outcome_unknown', by: action.decided_by };
  }
}

/** The model's visible words in the turn that proposed the calls: the card's "why". */
export function reasoningOf(content: StoredBlock[]): string | undefined {
  const text = content
    .filter((b) => b.type === 'text' && typeof b['text'] === 'string')
    .map((b) => String(b['text']).trim())
    .filter(Boolean)
    .join('\n\n');
  return text || undefined;
}

/**
 * Only catalogued (or MCP), non-hard-floor actions can be lowered to auto_notify by "Approve & remember";
 * for an MCP tool the definition on the card is remembered with it.
 */
export function isRememberable(registry: ToolRegistry, tool: string): boolean {
  const type = actionTypeFor(registry, tool);
  return Boolean(type && !type.hardFloor && registry.get(tool)?.hardFloor !== true);
}

export function buildCardView(opts: {
  registry: ToolRegistry;
  run: Run;
  action: Action;
  turn: Action[];
  reasoning: string | undefined;
  notices?: string[];
  approvals?: CardView['approvals'];
}): CardView {
  const approvalCards = opts.turn.filter((a) => a.decision === 'ask');
  const waitingFor = approvalCards.filter((a) => a.status === 'pending' && a.id !== opts.action.id).length;
  return {
    run: opts.run,
    action: opts.action,
    description: describeAction(opts.registry, opts.action),
    reasoning: opts.reasoning,
    state: cardStateOf(opts.action, waitingFor),
    notices: opts.notices ?? [],
    turnCardCount: approvalCards.length,
    // "Approve & remember" is one person's decision: not offered where several approvers are needed.
    rememberable: isRememberable(opts.registry, opts.action.tool) && (opts.approvals?.required ?? 1) <= 1,
    ...(opts.approvals ? { approvals: opts.approvals } : {}),
  };
}
