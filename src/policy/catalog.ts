import type { TrustMode } from '../db/schema.js';

/** `external`: a tool of an MCP server an admin connected (not in this catalog; see externalActionType). */
export type ActionCategory = 'read' | 'draft' | 'task' | 'organise' | 'schedule' | 'communicate' | 'crm_write' | 'purchase' | 'external';

export interface ActionType {
  name: string;
  category: ActionCategory;
  defaultMode: TrustMode;
  /** Hard floor: always approval, no setting can lower it. */
  hardFloor: boolean;
  /** Reversible actions get an Undo button when they run in auto_notify mode. */
  reversible: boolean;
  /** One line for `/agent trust`. */
  label: string;
}

/**
 * Default modes follow the design's rule of thumb: read-only and drafts run on their own, anything that
 * touches someone else asks, and the in-between (task bookkeeping, schedules) runs and notifies.
 */
export const CATALOG: readonly ActionType[] = [
  { name: 'search_knowledge_base', category: 'read', defaultMode: 'full_auto', hardFloor: false, reversible: false, label: 'Search the knowledge base' },
  { name: 'fetch_url', category: 'read', defaultMode: 'full_auto', hardFloor: false, reversible: false, label: 'Read a public web page' },
  { name: 'crm_search', category: 'read', defaultMode: 'full_auto', hardFloor: false, reversible: false, label: 'Search the CRM' },
  { name: 'crm_get_deal', category: 'read', defaultMode: 'full_auto', hardFloor: false, reversible: false, label: 'Read a CRM deal' },
  { name: 'comment_on_task', category: 'task', defaultMode: 'full_auto', hardFloor: false, reversible: false, label: 'Comment in the task thread' },
  { name: 'create_subtask', category: 'task', defaultMode: 'full_auto', hardFloor: false, reversible: true, label: 'Add a checklist item to the task' },
  { name: 'set_task_status', category: 'task', defaultMode: 'full_auto', hardFloor: false, reversible: true, label: 'Set the task status' },
  { name: 'schedule_run', category: 'schedule', defaultMode: 'require_approval', hardFloor: false, reversible: false, label: 'Create a recurring run' },
  { name: 'pause_schedule', category: 'schedule', defaultMode: 'auto_notify', hardFloor: false, reversible: true, label: 'Pause a schedule' },
  { name: 'resume_schedule', category: 'schedule', defaultMode: 'auto_notify', hardFloor: false, reversible: true, label: 'Resume a schedule' },
  { name: 'delete_schedule', category: 'schedule', defaultMode: 'require_approval', hardFloor: false, reversible: false, label: 'Delete a schedule' },
  { name: 'send_email', category: 'communicate', defaultMode: 'require_approval', hardFloor: true, reversible: false, label: 'Send an email' },
  { name: 'send_whatsapp', category: 'communicate', defaultMode: 'require_approval', hardFloor: true, reversible: false, label: 'Send a WhatsApp message' },
  { name: 'update_deal_stage', category: 'crm_write', defaultMode: 'require_approval', hardFloor: true, reversible: false, label: 'Change a CRM deal stage' },
  { name: 'make_purchase', category: 'purchase', defaultMode: 'require_approval', hardFloor: true, reversible: false, label: 'Make a purchase' },
];

const BY_NAME = new Map(CATALOG.map((a) => [a.name, a]));

export function findActionType(name: string): ActionType | undefined {
  return BY_NAME.get(name);
}

/**
 * The action type of a tool that is not built in (an MCP tool): its default mode comes from what its
 * server says about it (see policy/external.ts); it is never reversible and has no hard floor of its own.
 */
export function externalActionType(name: string, defaultMode: TrustMode, label: string): ActionType {
  return { name, category: 'external', defaultMode, hardFloor: false, reversible: false, label };
}

export const TRUST_MODES: readonly TrustMode[] = ['require_approval', 'auto_notify', 'full_auto'];
