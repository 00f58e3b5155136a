import type { Kysely } from 'kysely';

// Frozen once landed. Drift protection for MCP tools: per workspace, the definition (description, input
// schema, annotations) an admin set or accepted a tool's mode for. A server that later changes the tool
// loses that trust until an admin accepts the new definition. `notified_hash` is the changed definition
// admins were last told about, so each change is announced once.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mcp_tool_definitions')
    .addColumn('team_id', 'text', (c) => c.notNull())
    // The namespaced name the model sees: <server>__<tool>.
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('accepted_hash', 'text')
    .addColumn('accepted_json', 'text')
    .addColumn('accepted_by', 'text')
    .addColumn('accepted_at', 'text')
    .addColumn('notified_hash', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('mcp_tool_definitions_pk', ['team_id', 'tool'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mcp_tool_definitions').execute();
}
