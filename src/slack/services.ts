import type { Logger } from 'pino';
import type { Approvals } from '../agent/approvals.js';
import type { RunControl } from '../agent/control.js';
import type { RunEngine } from '../agent/engine.js';
import type { TrustService } from '../agent/trust.js';
import type { TrustSuggestions } from '../agent/trustSuggestions.js';
import type { ApprovalRules } from '../agent/approvalPolicy.js';
import type { CapsService } from '../agent/capsService.js';
import type { Scheduler } from '../agent/scheduler.js';
import type { McpTools } from '../agent/mcpTools.js';
import type { WorkspaceRemoval } from '../agent/workspaceRemoval.js';
import type { Mrkdwn } from '../text/mrkdwn.js';
import type { ThreadConversations } from '../agent/threads.js';
import type { ThreadReader } from './threadReader.js';
import type { AppHome } from '../agent/homeTab.js';

/** Slack writes listeners make outside the core's state changes; they go through the outbox too. */
export interface SlackWrites {
  /** Replaces a message the app posted (e.g. the one whose buttons were just used). */
  replaceMessage(teamId: string, channel: string, ts: string, text: Mrkdwn, blocks?: Array<Record<string, unknown>>): Promise<void>;
  /** A direct message to a user. */
  dm(teamId: string, userId: string, text: Mrkdwn): Promise<void>;
}

/** What listeners may call: the core, never the database or the tools directly. */
export interface SlackServices {
  engine: RunEngine;
  approvals: Approvals;
  control: RunControl;
  trust: TrustService;
  /** Trust suggestions for admins: the digest's and App Home's "Run it with a notice" buttons. */
  suggestions: TrustSuggestions;
  /** Per action type: approvers needed, reminder and escalation, expiry. */
  approvalRules: ApprovalRules;
  caps: CapsService;
  scheduler: Scheduler;
  /** MCP servers: `/agent tools` (list, refresh, accept). */
  mcp: McpTools;
  writes: SlackWrites;
  /** A workspace removing the app (app_uninstalled, tokens_revoked). */
  workspaces: WorkspaceRemoval;
  logger: Logger;
  /** Mentions, DMs and thread replies. */
  conversations: ThreadConversations;
  /** Earlier messages of a thread (a Slack read, cached). */
  threadReader: ThreadReader;
  /** The App Home tab: who has it open, answers to clicks there, "Approve selected". */
  home: AppHome;
}
