import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { insertAction } from '../db/repos/actions.js';
import { armActionPolicy } from './approvalPolicy.js';
import { appendActivity } from '../db/repos/activity.js';
import type { StoredBlock } from '../db/repos/messages.js';
import type { ActionDecision, ActionStatus, NewAction, Run, TrustMode } from '../db/schema.js';
import { errorMessage } from '../errors.js';
import type { IdGenerator } from '../ids.js';
import type { PolicyDecision } from '../policy/decide.js';
import type { ToolRegistry } from '../tools/registry.js';
import { callHash } from './hash.js';
import { POLICY_ACTOR } from './dispatcher.js';
import { policyInputFor, type QueueThresholds } from './policyContext.js';
import { decide } from '../policy/decide.js';
import { runToolNames } from './toolList.js';

/** One tool_use block of a model turn, classified but not yet stored. */
export interface Proposal {
  action: NewAction;
  decision: PolicyDecision | undefined;
}

export function toolUseBlocks(content: StoredBlock[]): Array<{ index: number; id: string; name: string; input: unknown }> {
  const out: Array<{ index: number; id: string; name: string; input: unknown }> = [];
  content.forEach((b, index) => {
    if (b.type === 'tool_use' && typeof b['id'] === 'string' && typeof b['name'] === 'string') {
      out.push({ index, id: b['id'], name: b['name'], input: b['input'] });
    }
  });
  return out;
}

/** The names in the tool list the run started with (stored with the run, never rebuilt). */
function offeredNames(run: Run): ReadonlySet<string> {
  return runToolNames(run.tools_json);
}

function formatZodIssues(issues: Array<{ path: PropertyKey[]; message: string }>): string {
  return issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(input)'}: ${i.message}`).join('; ');
}

/**
 * Validates and classifies every tool call of a turn. Invalid input never reaches a card: it becomes an
 * is_error result for the model. Runs outside the transaction because `prepare` may call Slack.
 */
export async function classifyTurn(deps: {
  db: Db;
  registry: ToolRegistry;
  clock: Clock;
  ids: IdGenerator;
  queue: QueueThresholds;
  run: Run;
  messageSeq: number;
  content: StoredBlock[];
}): Promise<Proposal[]> {
  const { db, registry, clock, ids, run } = deps;
  const now = clock.now().toISOString();
  const proposals: Proposal[] = [];
  let askedInTurn = 0;
  for (const block of toolUseBlocks(deps.content)) {
    const inputJson = JSON.stringify(block.input ?? {});
    const base = {
      id: ids.actionId(),
      run_id: run.id,
      team_id: run.team_id,
      message_seq: deps.messageSeq,
      block_index: block.index,
      tool_use_id: block.id,
      tool: block.name,
      input_json: inputJson,
      created_at: now,
      updated_at: now,
    };
    const failed = (content: string, mode: TrustMode = 'require_approval', decision: ActionDecision = 'invalid'): Proposal => ({
      action: {
        ...base,
        prepared_json: null,
        input_hash: callHash(block.name, inputJson, null),
        mode,
        decision,
        status: 'failed',
        result_json: JSON.stringify({ content, is_error: true }),
      },
      decision: undefined,
    });

    // A run keeps the tool list it started with: a tool added since was never offered to it, and one
    // that went away (its MCP server is down or dropped it) answers as unavailable.
    const offered = offeredNames(run);
    const tool = offered.has(block.name) ? registry.get(block.name) : undefined;
    if (!tool) {
      proposals.push(
        failed(
          offered.has(block.name)
            ? `The tool ${block.name} is not available right now (its server is unavailable or no longer offers it). Nothing was done; carry on without it or tell the requester.`
            : `There is no tool named ${block.name}. Use only the tools you were given.`,
        ),
      );
      continue;
    }
    const parsed = tool.inputSchema.safeParse(block.input);
    if (!parsed.success) {
      proposals.push(failed(`Invalid input for ${block.name}: ${formatZodIssues(parsed.error.issues)}. Fix the input and try again.`));
      continue;
    }
    const policyInput = await policyInputFor(db, registry, deps.queue, run.team_id, block.name);
    const decision = decide({ ...policyInput, pendingApprovals: policyInput.pendingApprovals + askedInTurn });
    if (decision.kind === 'refuse') {
      proposals.push({
        ...failed(
          "Approvals aren't being cleared in this workspace (too many are waiting), so this action was not queued. Stop and tell the requester.",
          'require_approval',
          'refuse',
        ),
        decision,
      });
      continue;
    }
    let prepared: Record<string, unknown> | null = null;
    if (tool.prepare) {
      try {
        prepared = await tool.prepare(parsed.data, { run: { id: run.id, teamId: run.team_id, channelId: run.channel_id, threadTs: run.thread_ts, requesterId: run.requester_id } });
      } catch (err) {
        proposals.push(failed(`Could not prepare ${block.name}: ${errorMessage(err)}`, decision.mode, 'invalid'));
        continue;
      }
    }
    const preparedJson = prepared ? JSON.stringify(prepared) : null;
    const hash = callHash(block.name, inputJson, preparedJson);
    const auto = decision.kind === 'run' || decision.kind === 'notify';
    if (!auto) askedInTurn += 1;
    const status: ActionStatus = auto ? 'approved' : 'pending';
    proposals.push({
      action: {
        ...base,
        prepared_json: preparedJson,
        input_hash: hash,
        mode: decision.mode,
        decision: decision.kind,
        status,
        // The policy itself is the approver of low-risk calls; the dispatcher re-checks it before running.
        decided_by: auto ? POLICY_ACTOR : null,
        decided_at: auto ? now : null,
        approved_hash: auto ? hash : null,
      },
      decision,
    });
  }
  return proposals;
}

export async function storeProposals(db: Db, run: Run, proposals: Proposal[], at: string): Promise<void> {
  for (const p of proposals) {
    await insertAction(db, p.action);
    // A call that waits for people starts its approval rule's clock now (approvals needed, reminder, expiry).
    if (p.action.decision === 'ask') await armActionPolicy(db, p.action, at);
    await appendActivity(db, {
      at,
      teamId: run.team_id,
      runId: run.id,
      actionId: p.action.id,
      actor: 'agent',
      kind: p.action.decision === 'ask' ? 'approval_requested' : p.action.decision === 'invalid' ? 'action_invalid' : p.action.decision === 'refuse' ? 'action_refused' : 'action_proposed',
      detail: {
        tool: p.action.tool,
        mode: p.action.mode,
        decision: p.action.decision,
        input: p.action.input_json.length > 2000 ? `${p.action.input_json.slice(0, 2000)}…` : p.action.input_json,
        ...(p.decision?.kind === 'ask' ? { reasons: p.decision.reasons } : {}),
      },
    });
  }
}
