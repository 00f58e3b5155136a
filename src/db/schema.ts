import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

// The application's view of the tables created by db/migrations. Timestamps are ISO-8601 strings and
// JSON columns are text validated with zod when read: both keep the queries portable to Postgres.

export type RunStatus = 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled' | 'stopped';
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'stopped'];

export type ActionStatus =
  | 'pending'
  | 'approved'
  | 'rejected'
  | 'dispatching'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'outcome_unknown';
/** Statuses after which an action contributes a tool_result and never changes again. */
export const SETTLED_ACTION_STATUSES: readonly ActionStatus[] = [
  'succeeded',
  'failed',
  'cancelled',
  'outcome_unknown',
  'rejected',
];

export type TrustMode = 'require_approval' | 'auto_notify' | 'full_auto';
/** What the policy decided when the call was proposed. `invalid` = the input failed validation. */
export type ActionDecision = 'run' | 'notify' | 'ask' | 'refuse' | 'invalid';

export interface RunsTable {
  id: string;
  team_id: string;
  channel_id: string;
  thread_ts: string | null;
  requester_id: string;
  task: string;
  status: RunStatus;
  model: string;
  spend_usd: number;
  turns: number;
  parent_run_id: string | null;
  extra_context: string | null;
  system_prompt: string;
  tools_json: string;
  task_status: string;
  subtasks_json: string;
  cost_cap_usd: number | null;
  max_turns: number | null;
  error_code: string | null;
  error_message: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /** The instance advancing the run (see src/cluster/runLeases.ts), until lease_expires_at. */
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** 1 while the run holds one of its workspace's concurrency slots (valid while its lease is). */
  slot_held: Generated<number>;
  /** Set while the run waits for a slot: its place in the workspace's queue. */
  queued_at: string | null;
}

export interface RunMessagesTable {
  id: Generated<number>;
  run_id: string;
  seq: number;
  role: 'user' | 'assistant';
  content_json: string;
  stop_reason: string | null;
  created_at: string;
}

export interface ActionsTable {
  id: string;
  run_id: string;
  team_id: string;
  message_seq: number;
  block_index: number;
  tool_use_id: string;
  tool: string;
  input_json: string;
  prepared_json: string | null;
  input_hash: string;
  mode: TrustMode;
  decision: ActionDecision;
  status: ActionStatus;
  approved_hash: string | null;
  result_json: string | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  card_channel: string | null;
  card_ts: string | null;
  card_error: string | null;
  dispatch_started_at: string | null;
  dispatched_at: string | null;
  undone_at: string | null;
  undone_by: string | null;
  /** The auto_notify notification in the thread (it carries the Undo button). */
  notice_ts: string | null;
  created_at: string;
  updated_at: string;
}

export interface ActivityTable {
  id: Generated<number>;
  at: string;
  team_id: string;
  run_id: string | null;
  action_id: string | null;
  actor: string;
  kind: string;
  detail_json: string;
  /** Position in the workspace's hash chain (1, 2, ...); null only for a row written around the chain. */
  seq: number | null;
  /** sha256 of the row's canonical form and the previous row's hash (src/db/activityHash.ts). */
  hash: string | null;
}

/** Each workspace's chain head: the seq and hash of its last activity row. */
export interface ActivityChainTable {
  team_id: string;
  seq: number;
  hash: string;
}

/** Trust suggestions made to a workspace's admins, so one is not repeated daily. */
export interface TrustSuggestionsTable {
  team_id: string;
  action_type: string;
  offered_at: string | null;
  outcome: 'applied' | 'dismissed' | null;
  closed_by: string | null;
  closed_at: string | null;
}

export interface TrustSettingsTable {
  team_id: string;
  action_type: string;
  mode: TrustMode | null;
  approvers_json: string | null;
  updated_by: string;
  updated_at: string;
}

export interface WorkspaceStateTable {
  team_id: string;
  paused: number;
  paused_reason: string | null;
  paused_by: string | null;
  paused_at: string | null;
  disabled: number;
  disabled_reason: string | null;
  disabled_by: string | null;
  disabled_at: string | null;
  caps_json: string;
  settings_json: string;
  updated_at: string;
}

export interface SchedulesTable {
  id: string;
  team_id: string;
  channel_id: string;
  owner_id: string;
  cron: string;
  timezone: string;
  task: string;
  status: string;
  created_by_run_id: string | null;
  last_fired_minute: string | null;
  created_at: string;
  updated_at: string;
}

export interface ModelCallsTable {
  id: Generated<number>;
  run_id: string;
  team_id: string;
  user_id: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cost_usd: number;
  stop_reason: string | null;
  duration_ms: number;
  at: string;
}

export interface ProcessedEventsTable {
  key: string;
  at: string;
}

/** `assistant`: a call on a DM thread of the app's AI surface (status, suggested prompts), see migration 0007. */
/** `home`: a user's App Home view (views.publish), rendered for that user when sent. */
export type OutboxOp = 'post' | 'update' | 'assistant' | 'home';
/**
 * queued: waiting; sending: claimed by a deliverer; unknown: a post whose fate is unclear (5xx, timeout,
 * crash) and must be looked up in Slack before it is sent again; sent / failed (permanent) / superseded
 * (merged into another message, or its target is gone).
 */
export type OutboxStatus = 'queued' | 'sending' | 'unknown' | 'sent' | 'failed' | 'superseded';

export interface SlackOutboxTable {
  id: Generated<number>;
  team_id: string;
  run_id: string | null;
  lane: string;
  msg_key: string | null;
  op: OutboxOp;
  priority: number;
  channel: string;
  thread_key: string | null;
  payload_json: string;
  status: OutboxStatus;
  attempts: number;
  not_before: string;
  claimed_by: string | null;
  claimed_at: string | null;
  sent_ts: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface SlackMessagesTable {
  msg_key: string;
  team_id: string;
  channel: string;
  ts: string;
  created_at: string;
}

/** Per workspace: the MCP tool definition an admin trusted (see db/migrations/0005). */
export interface McpToolDefinitionsTable {
  team_id: string;
  tool: string;
  accepted_hash: string | null;
  accepted_json: string | null;
  accepted_by: string | null;
  accepted_at: string | null;
  notified_hash: string | null;
  updated_at: string;
}

/** A workspace the app is installed in through OAuth (tokens only inside `secrets_enc`). */
export interface SlackInstallationsTable {
  team_id: string;
  team_name: string | null;
  enterprise_id: string | null;
  app_id: string | null;
  bot_user_id: string;
  bot_id: string;
  bot_scopes: string;
  bot_token_expires_at: number | null;
  installer_user_id: string | null;
  data_json: string;
  secrets_enc: string;
  installed_at: string;
  updated_at: string;
}

export interface SlackOAuthStatesTable {
  state_hash: string;
  install_options_json: string;
  created_at: string;
  expires_at: string;
}

export type ReplyKind = 'requester' | 'other';

export interface RunRepliesTable {
  id: Generated<number>;
  run_id: string;
  team_id: string;
  author_id: string;
  kind: ReplyKind;
  text: string;
  channel_id: string;
  message_ts: string;
  /** The conversation message that carried it to the model; null while it waits for the next turn. */
  taken_seq: number | null;
  created_at: string;
  taken_at: string | null;
}

export interface AssistantThreadsTable {
  channel_id: string;
  thread_ts: string;
  team_id: string;
  user_id: string;
  created_at: string;
}

/** The processes sharing the database, and until when each is presumed alive (its heartbeat). */
export interface InstancesTable {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
  expires_at: string;
  draining: Generated<number>;
}

/** Someone who opened the app's Home tab (their Home is kept current while they are recent). */
export interface HomeViewersTable {
  team_id: string;
  user_id: string;
  opened_at: string;
  /** The answer to their last click in the Home tab, shown at its top. */
  note: string | null;
  note_at: string | null;
}

export interface Database {
  runs: RunsTable;
  run_messages: RunMessagesTable;
  actions: ActionsTable;
  activity: ActivityTable;
  activity_chain: ActivityChainTable;
  trust_suggestions: TrustSuggestionsTable;
  trust_settings: TrustSettingsTable;
  workspace_state: WorkspaceStateTable;
  schedules: SchedulesTable;
  model_calls: ModelCallsTable;
  processed_events: ProcessedEventsTable;
  slack_outbox: SlackOutboxTable;
  slack_messages: SlackMessagesTable;
  mcp_tool_definitions: McpToolDefinitionsTable;
  slack_installations: SlackInstallationsTable;
  slack_oauth_states: SlackOAuthStatesTable;
  run_replies: RunRepliesTable;
  assistant_threads: AssistantThreadsTable;
  instances: InstancesTable;
  home_viewers: HomeViewersTable;
  approval_rules: ApprovalRulesTable;
  action_policies: ActionPoliciesTable;
  action_approvals: ActionApprovalsTable;
}

/** An admin's approval rule for an action type (migration 0010); null fields are off. */
export interface ApprovalRulesTable {
  team_id: string;
  action_type: string;
  approvals: number | null;
  remind_after_s: number | null;
  escalate_json: string | null;
  expire_after_s: number | null;
  updated_by: string;
  updated_at: string;
}

/** The rule a waiting call started with, and its due times (cleared once handled). */
export interface ActionPoliciesTable {
  action_id: string;
  team_id: string;
  run_id: string;
  approvals_required: Generated<number>;
  remind_at: string | null;
  reminded_at: string | null;
  escalate_json: string | null;
  escalated_at: string | null;
  expire_at: string | null;
  expire_after_s: number | null;
  created_at: string;
}

/** One person's approval of one exact call (input hash), for calls needing several approvers. */
export interface ActionApprovalsTable {
  action_id: string;
  user_id: string;
  input_hash: string;
  at: string;
}

export type Run = Selectable<RunsTable>;
export type NewRun = Insertable<RunsTable>;
export type RunUpdate = Updateable<RunsTable>;
export type RunMessage = Selectable<RunMessagesTable>;
export type Action = Selectable<ActionsTable>;
export type NewAction = Insertable<ActionsTable>;
export type ActivityRow = Selectable<ActivityTable>;
export type ActionPolicy = Selectable<ActionPoliciesTable>;
export type WorkspaceState = Selectable<WorkspaceStateTable>;
export type ModelCall = Selectable<ModelCallsTable>;

export type OutboxRow = Selectable<SlackOutboxTable>;
export type SlackInstallationRow = Selectable<SlackInstallationsTable>;
export type RunReply = Selectable<RunRepliesTable>;
