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
  | { kind: 'outcome_unknown'; by: string | null };

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
}

export interface ChatSurface {
  /** Posts the task message in the run's channel; its thread is the task thread. */
  postTaskMessage(run: Run): Promise<{ ts: string }>;
  updateTaskMessage(run: Run, live?: { queuePosition?: number | undefined }): Promise<void>;
  /** A line in the task thread (mrkdwn). */
  postInThread(run: Run, text: string): Promise<void>;
  /** An auto_notify notification in the thread, with an Undo button when `undoActionId` is given. */
  postNotice(run: Run, text: string, undoActionId?: string): Promise<{ ts: string }>;
  /** Replaces a notification (after Undo: the button is gone, the text says who undid it). */
  updateNotice(run: Run, ts: string, text: string): Promise<void>;
  postCard(card: CardView): Promise<CardLocation>;
  /** The thread message of a run stopped by a cap, with "Raise cap and continue" and "Stop". */
  postCapStop(run: Run, text: string, cap: string): Promise<void>;
  /** A failed run's message with a Retry button (resumes from the last persisted step). */
  postRetry(run: Run, text: string): Promise<void>;
  /** A top-level message in a channel (digests); returns where it went. */
  postToChannel(channel: string, text: string): Promise<CardLocation>;
  /** A link to a message, when Slack gives one. */
  permalink(channel: string, ts: string): Promise<string | undefined>;
  updateCard(card: CardView, at: CardLocation): Promise<void>;
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
