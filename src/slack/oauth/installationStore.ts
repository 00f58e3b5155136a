import type { Installation, InstallationQuery, InstallationStore } from '@slack/bolt';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import type { Db } from '../../db/connection.js';
import { parseStoredJson } from '../../db/json.js';
import { deleteInstallationRow, getInstallationRow, upsertInstallationRow } from '../../db/repos/installations.js';
import { AppError } from '../../errors.js';
import type { TokenCipher } from './tokenCipher.js';

/** Every token of an installation: the only part that is encrypted. */
const secretsSchema = z.object({
  botToken: z.string().min(1),
  botRefreshToken: z.string().optional(),
  userToken: z.string().optional(),
  userRefreshToken: z.string().optional(),
});
type Secrets = z.infer<typeof secretsSchema>;

/** The rest of Bolt's Installation, as stored in data_json. */
const dataSchema = z.looseObject({
  team: z.looseObject({ id: z.string(), name: z.string().optional() }),
  enterprise: z.looseObject({ id: z.string(), name: z.string().optional() }).optional(),
  user: z.looseObject({ id: z.string(), scopes: z.array(z.string()).optional(), expiresAt: z.number().optional() }),
  bot: z.looseObject({ id: z.string(), userId: z.string(), scopes: z.array(z.string()), expiresAt: z.number().optional() }),
  appId: z.string().optional(),
  tokenType: z.literal('bot').optional(),
  isEnterpriseInstall: z.boolean().optional(),
  authVersion: z.enum(['v1', 'v2']).optional(),
  metadata: z.string().optional(),
});

/**
 * Marks installations this store handed out. Bolt's token rotation copies a fetched installation (object
 * spread keeps enumerable symbol keys), puts the new tokens in and stores it: that is a refresh, which must
 * not move `installed_at` (a late uninstall event is compared against it).
 */
const FETCHED = Symbol('fetched from the installation store');

/** What the rest of the app reads about a workspace's installation. */
export interface InstalledWorkspace {
  teamId: string;
  botToken: string;
  botUserId: string;
  botId: string;
  /** Unix seconds; set when token rotation is on. */
  botTokenExpiresAt: number | undefined;
  hasRefreshToken: boolean;
  installedAt: string;
}

/**
 * Bolt's InstallationStore on the app's database (SQLite or Postgres), one row per workspace. Tokens are
 * encrypted with SLACK_TOKEN_ENCRYPTION_KEY, bound to the team id. Installing into a whole Enterprise Grid
 * organisation is refused: every setting, run and cap is keyed by workspace.
 */
export class DbInstallationStore implements InstallationStore {
  constructor(
    private readonly db: Db,
    private readonly cipher: TokenCipher,
    private readonly clock: Clock,
  ) {}

  async storeInstallation<AuthVersion extends 'v1' | 'v2'>(installation: Installation<AuthVersion, boolean>): Promise<void> {
    if (installation.isEnterpriseInstall || !installation.team) {
      throw new AppError('not_allowed', 'Installing into a whole Enterprise Grid organisation is not supported: install the app in each workspace.');
    }
    const { bot, user, team } = installation;
    if (!bot?.token) throw new AppError('invalid_state', 'The installation has no bot token (the bot scopes were not granted).');
    const at = this.clock.now().toISOString();
    const secrets: Secrets = {
      botToken: bot.token,
      ...(bot.refreshToken ? { botRefreshToken: bot.refreshToken } : {}),
      ...(user.token ? { userToken: user.token } : {}),
      ...(user.refreshToken ? { userRefreshToken: user.refreshToken } : {}),
    };
    const data = {
      team: { id: team.id, ...(team.name ? { name: team.name } : {}) },
      ...(installation.enterprise ? { enterprise: { id: installation.enterprise.id, ...(installation.enterprise.name ? { name: installation.enterprise.name } : {}) } } : {}),
      user: { id: user.id, ...(user.scopes ? { scopes: user.scopes } : {}), ...(user.expiresAt !== undefined ? { expiresAt: user.expiresAt } : {}) },
      bot: { id: bot.id, userId: bot.userId, scopes: bot.scopes, ...(bot.expiresAt !== undefined ? { expiresAt: bot.expiresAt } : {}) },
      ...(installation.appId ? { appId: installation.appId } : {}),
      tokenType: 'bot' as const,
      isEnterpriseInstall: false,
      authVersion: installation.authVersion ?? 'v2',
      ...(installation.metadata !== undefined ? { metadata: installation.metadata } : {}),
    };
    const refresh = (installation as { [FETCHED]?: boolean })[FETCHED] === true;
    await upsertInstallationRow(
      this.db,
      {
        team_id: team.id,
        team_name: team.name ?? null,
        enterprise_id: installation.enterprise?.id ?? null,
        app_id: installation.appId ?? null,
        bot_user_id: bot.userId,
        bot_id: bot.id,
        bot_scopes: bot.scopes.join(','),
        bot_token_expires_at: bot.expiresAt ?? null,
        installer_user_id: user.id,
        data_json: JSON.stringify(data),
        secrets_enc: this.cipher.encrypt(JSON.stringify(secrets), team.id),
        installed_at: at,
        updated_at: at,
      },
      { refresh },
    );
  }

  async fetchInstallation(query: InstallationQuery<boolean>): Promise<Installation<'v1' | 'v2', boolean>> {
    const found = await this.load(query);
    if (!found) throw new AppError('not_installed', `The app is not installed in workspace ${query.teamId ?? query.enterpriseId ?? '(unknown)'}.`);
    return found;
  }

  async deleteInstallation(query: InstallationQuery<boolean>): Promise<void> {
    if (query.teamId) await deleteInstallationRow(this.db, query.teamId);
  }

  /** The workspace's bot credentials, or undefined when the app is not installed there. */
  async workspace(teamId: string): Promise<InstalledWorkspace | undefined> {
    const row = await getInstallationRow(this.db, teamId);
    if (!row) return undefined;
    const secrets = this.secretsOf(row.team_id, row.secrets_enc);
    return {
      teamId: row.team_id,
      botToken: secrets.botToken,
      botUserId: row.bot_user_id,
      botId: row.bot_id,
      botTokenExpiresAt: row.bot_token_expires_at ?? undefined,
      hasRefreshToken: secrets.botRefreshToken !== undefined,
      installedAt: row.installed_at,
    };
  }

  /** When the workspace's current installation was made, or undefined when there is none. */
  async installedAt(teamId: string): Promise<string | undefined> {
    return (await getInstallationRow(this.db, teamId))?.installed_at;
  }

  /** Removes the installation unless it was (re)installed at or after `before` (ISO). */
  async remove(teamId: string, before?: string): Promise<boolean> {
    return deleteInstallationRow(this.db, teamId, before);
  }

  /** Drops user tokens Slack revoked (the bot token stays usable). */
  async removeUserTokens(teamId: string, userIds: readonly string[]): Promise<boolean> {
    const row = await getInstallationRow(this.db, teamId);
    if (!row || !row.installer_user_id || !userIds.includes(row.installer_user_id)) return false;
    const secrets = this.secretsOf(row.team_id, row.secrets_enc);
    if (!secrets.userToken) return false;
    const { userToken: _t, userRefreshToken: _r, ...kept } = secrets;
    await this.db
      .updateTable('slack_installations')
      .set({ secrets_enc: this.cipher.encrypt(JSON.stringify(kept), teamId), updated_at: this.clock.now().toISOString() })
      .where('team_id', '=', teamId)
      .execute();
    return true;
  }

  private async load(query: InstallationQuery<boolean>): Promise<Installation<'v1' | 'v2', boolean> | undefined> {
    // Organisation-wide installs are never stored (see storeInstallation), so only workspaces are looked up.
    if (query.isEnterpriseInstall || !query.teamId) return undefined;
    const row = await getInstallationRow(this.db, query.teamId);
    if (!row) return undefined;
    const data = parseStoredJson(dataSchema, row.data_json, 'installation');
    const secrets = this.secretsOf(row.team_id, row.secrets_enc);
    const installation = {
      ...data,
      team: { id: row.team_id, ...(data.team.name ? { name: data.team.name } : {}) },
      enterprise: data.enterprise,
      user: { ...data.user, token: secrets.userToken, ...(secrets.userRefreshToken ? { refreshToken: secrets.userRefreshToken } : {}), scopes: data.user.scopes },
      bot: { ...data.bot, token: secrets.botToken, ...(secrets.botRefreshToken ? { refreshToken: secrets.botRefreshToken } : {}) },
      authVersion: data.authVersion ?? 'v2',
      isEnterpriseInstall: false,
    } as Installation<'v1' | 'v2', boolean>;
    Object.defineProperty(installation, FETCHED, { value: true, enumerable: true });
    return installation;
  }

  private secretsOf(teamId: string, sealed: string): Secrets {
    return parseStoredJson(secretsSchema, this.cipher.decrypt(sealed, teamId), 'installation tokens');
  }
}
