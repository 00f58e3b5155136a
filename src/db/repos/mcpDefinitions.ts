import { z } from 'zod';
import type { Db } from '../connection.js';
import { parseStoredJson } from '../json.js';

const definitionSchema = z.object({
  description: z.string(),
  inputSchema: z.record(z.string(), z.unknown()),
  annotations: z.record(z.string(), z.unknown()),
});
/** A tool's definition as its server declared it (description, input schema, annotations). */
export type StoredToolDefinition = z.infer<typeof definitionSchema>;

export interface AcceptedDefinition {
  tool: string;
  hash: string | null;
  definition: StoredToolDefinition | null;
  by: string | null;
  at: string | null;
  notifiedHash: string | null;
}


/** The MCP tool definitions a workspace's admins trusted, by namespaced tool name. */
export async function listAcceptedDefinitions(db: Db, teamId: string): Promise<Map<string, AcceptedDefinition>> {
  const rows = await db.selectFrom('mcp_tool_definitions').selectAll().where('team_id', '=', teamId).execute();
  return new Map(rows.map((r) => [r.tool, toAccepted(r)]));
}

export async function getAcceptedDefinition(db: Db, teamId: string, tool: string): Promise<AcceptedDefinition | undefined> {
  const row = await db.selectFrom('mcp_tool_definitions').selectAll().where('team_id', '=', teamId).where('tool', '=', tool).executeTakeFirst();
  return row ? toAccepted(row) : undefined;
}

/** Every workspace's rows for these tools (discovery tells each workspace about its own changes). */
export async function listAcceptedForTools(db: Db, tools: string[]): Promise<Array<AcceptedDefinition & { teamId: string }>> {
  if (tools.length === 0) return [];
  const rows = await db.selectFrom('mcp_tool_definitions').selectAll().where('tool', 'in', tools).execute();
  return rows.map((r) => ({ ...toAccepted(r), teamId: r.team_id }));
}

function toAccepted(r: { tool: string; accepted_hash: string | null; accepted_json: string | null; accepted_by: string | null; accepted_at: string | null; notified_hash: string | null }): AcceptedDefinition {
  return {
    tool: r.tool,
    hash: r.accepted_hash,
    definition: r.accepted_json ? parseStoredJson(definitionSchema, r.accepted_json, `accepted definition of ${r.tool}`) : null,
    by: r.accepted_by,
    at: r.accepted_at,
    notifiedHash: r.notified_hash,
  };
}

/** Records that `by` trusted this exact definition of the tool in this workspace. */
export async function saveAcceptedDefinition(
  db: Db,
  row: { teamId: string; tool: string; hash: string; definition: StoredToolDefinition; by: string; at: string },
): Promise<void> {
  const values = { accepted_hash: row.hash, accepted_json: JSON.stringify(row.definition), accepted_by: row.by, accepted_at: row.at, notified_hash: null, updated_at: row.at };
  await db
    .insertInto('mcp_tool_definitions')
    .values({ team_id: row.teamId, tool: row.tool, ...values })
    .onConflict((oc) => oc.columns(['team_id', 'tool']).doUpdateSet(values))
    .execute();
}

/**
 * Marks a changed definition as announced to the workspace's admins. Conditional, so of several
 * discoveries (instances, refreshes) only one announces each change; returns whether this one did.
 */
export async function markDriftNotified(db: Db, teamId: string, tool: string, hash: string, at: string): Promise<boolean> {
  await db
    .insertInto('mcp_tool_definitions')
    .values({ team_id: teamId, tool, accepted_hash: null, accepted_json: null, accepted_by: null, accepted_at: null, notified_hash: null, updated_at: at })
    .onConflict((oc) => oc.columns(['team_id', 'tool']).doNothing())
    .execute();
  const res = await db
    .updateTable('mcp_tool_definitions')
    .set({ notified_hash: hash, updated_at: at })
    .where('team_id', '=', teamId)
    .where('tool', '=', tool)
    .where((eb) => eb.or([eb('notified_hash', 'is', null), eb('notified_hash', '!=', hash)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
