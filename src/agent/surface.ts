import type { Action, Run } from '../db/schema.js';
import type { CallDescription } from '../tools/types.js';

/**
 * How the agent talks to people. The Slack layer implements it; the agent never imports Slack code, so
 * the whole loop can be tested (and later reused on another surface) without Bolt.
 */

/** Where a card ended up, so it can be updated in place after the decision. */
export interface CardLocation {
  channel: string;
  ts: string;
}

export type CardState =
  | { kind: 'pending' }
  | { kind: 'approved'; by: string; at: string; waitingFor: number }
  | { kind: 'rejected'; by: string; at: string; note: string | null }
  | { kind: 'cancelled'; reason: string }
  | { kind: 'done'; by: string; at: string; ok: boolean; resultSummary: string }
  | { kind: 'outcome_unknown'; by: string | null }
  /** Nobody decided before the action type's expiry: closed, nothing done, the run cancelled. */
  | { kind: 'expired'; at: string };

export interface CardView {
  run: Run;
  action: Action;
  description: CallDescription;
  /** The model's own words in the turn that asked for this call: the "why". */
  reasoning: string | undefined;
  state: CardState;
  /** Extra warnings to show (workspace paused, long approval queue). */
  notices: string[];
  /** Number of approval cards in the same model turn (all-or-nothing), including this one. */
  turnCardCount: number;
  /** Channel for the card; undefined: the task thread. */
  route?: string | undefined;
  /** Offer "Approve & remember" (actions that are not hard-floor). */
  rememberable: boolean;
  /** Who the card mentions while it waits (stored Slack ids only); none when an admin turned it off. */
  deciders?: Deciders | undefined;
  /** Whether a card posted in the task thread is also shown in the channel (workspace setting). */
  announce?: boolean;
  /** Offer "Edit" (tools whose arguments an approver may change before approving). */
  editable?: boolean;
  /** Calls needing several distinct approvers: how many, and who approved this exact call so far. */
  approvals?: { required: number; given: Array<{ user: string; at: string }> } | undefined;
  /** The approver's edit of the proposed call, if any: who and what changed. */
  edit?: { by: string; at: string; changes: Array<{ field: string; before: string; after: string }> } | undefined;
}

/** The people a waiting card pings: the named approvers, or else the requester. */
export interface Deciders {
  users: string[];
  groups: string[];
}

/** A step the run took on its own, shown on the task message instead of as a thread line. */
export interface ProgressItem {
  ok: boolean;
  /** The tool's own summary (untrusted: escaped when rendered). */
  summary: string;
}

export interface TaskView {
  run: Run;
  /** Position in the workspace's queue of runs waiting for a slot, when queued. */
  queuePosition: number | undefined;
  /** Steps run without approval, oldest first (the last few are shown). */
  progress: ProgressItem[];
  progressTotal: number;
  /** Undecided cards posted outside the task thread (the approvals channel), to link from the task. */
  cardsElsewhere: Array<{ summary: string; channel: string; ts: string }>;
  /** What prompt caching saved this run so far (negative if it cost more). */
  cacheSavedUsd?: number;
}

/**
 * What the Slack layer renders when it delivers an outbox message: always read fresh from the database,
 * so a message that waited behind a rate limit shows the latest state.
 */
export interface MessageViews {
  task(runId: string): Promise<TaskView | undefined>;
  card(actionId: string): Promise<CardView | undefined>;
}

/** Profile facts the agent needs about people (sender identity, admin checks). */
export interface UserDirectory {
  lookup(teamId: string, userId: string): Promise<UserProfile | undefined>;
}

export interface UserProfile {
  id: string;
  name: string | undefined;
  email: string | undefined;
  isAdmin: boolean;
  tz: string | undefined;
}
