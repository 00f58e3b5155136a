import type { Kysely } from 'kysely';

// Frozen once landed. OAuth installs into many workspaces.
// `slack_installations`: one row per workspace the app is installed in. What Slack's installation says
// about the workspace is kept readable (for operators and queries); the tokens are only in `secrets_enc`,
// encrypted with SLACK_TOKEN_ENCRYPTION_KEY (AES-256-GCM, bound to the team id).
// `slack_oauth_states`: the state of each install flow that was started, used once: a forged state has no
// row, a replayed one finds its row already consumed.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('slack_installations')
    .addColumn('team_id', 'text', (c) => c.primaryKey())
    .addColumn('team_name', 'text')
    .addColumn('enterprise_id', 'text')
    .addColumn('app_id', 'text')
    .addColumn('bot_user_id', 'text', (c) => c.notNull())
    .addColumn('bot_id', 'text', (c) => c.notNull())
    .addColumn('bot_scopes', 'text', (c) => c.notNull())
    // Unix seconds; set when Slack's token rotation is on (the token is refreshed before it expires).
    .addColumn('bot_token_expires_at', 'integer')
    .addColumn('installer_user_id', 'text')
    // The installation without its tokens (Bolt's Installation shape), for fetchInstallation.
    .addColumn('data_json', 'text', (c) => c.notNull())
    .addColumn('secrets_enc', 'text', (c) => c.notNull())
    .addColumn('installed_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('slack_oauth_states')
    // SHA-256 of the state's random part: the database never holds a usable state.
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('install_options_json', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('slack_oauth_states_expiry').on('slack_oauth_states').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('slack_oauth_states').execute();
  await db.schema.dropTable('slack_installations').execute();
}
