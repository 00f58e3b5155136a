import { InstallProvider, LogLevel, type CallbackOptions } from '@slack/oauth';
import type { WebClientOptions } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { OAuthConfig } from '../../config.js';
import type { Db } from '../../db/connection.js';
import { appendActivity } from '../../db/repos/activity.js';
import { errorMessage } from '../../errors.js';
import type { TeamToken, TokenSource } from '../clients.js';
import { DbInstallationStore } from './installationStore.js';
import { installedPage, installFailedPage, refusedPage } from './pages.js';
import { DbStateStore } from './stateStore.js';
import { TokenCipher } from './tokenCipher.js';

export { DbInstallationStore } from './installationStore.js';

/** The bot scopes asked for at install; the same list as manifest.json's oauth_config.scopes.bot. */
export const BOT_SCOPES = ['commands', 'chat:write', 'chat:write.public', 'users:read', 'users:read.email', 'usergroups:read', 'channels:read', 'groups:read', 'im:write', 'channels:history', 'groups:history', 'im:history', 'mpim:history', 'app_mentions:read', 'assistant:write'];

export const INSTALL_PATH = '/slack/install';
export const REDIRECT_PATH = '/slack/oauth_redirect';

/** InstallProvider refreshes a rotating token that expires within this many seconds (its own rule). */
const REFRESH_WINDOW_SECONDS = 7200;

/**
 * Slack's authorize page on the same host as SLACK_API_URL (`https://slack.com/api/` gives
 * `https://slack.com/oauth/v2/authorize`; GovSlack and test fakes alike). A URL that does not end in
 * `/api/` keeps Slack's own page.
 */
export function authorizationUrl(apiUrl: string | undefined): string {
  if (apiUrl) {
    const base = apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`;
    if (base.endsWith('/api/')) return new URL('../oauth/v2/authorize', base).toString();
  }
  return 'https://slack.com/oauth/v2/authorize';
}

/** Everything OAuth mode adds: the stores Bolt uses, and the tokens the app's own clients use. */
export interface OAuthInstall {
  store: DbInstallationStore;
  stateStore: DbStateStore;
  clientId: string;
  clientSecret: string;
  stateSecret: string;
  scopes: string[];
  authorizationUrl: string;
  /** oauth.v2.access and auth.test go through SLACK_API_URL like every other call. */
  clientOptions: WebClientOptions;
  callbackOptions: CallbackOptions;
  tokens: TokenSource;
}

export function createOAuthInstall(opts: {
  config: OAuthConfig;
  apiUrl: string | undefined;
  clientOptions: WebClientOptions;
  db: Db;
  clock: Clock;
  logger: Logger;
  /** After a workspace's installation is stored (a first install or a reinstall). */
  onInstalled?: (teamId: string) => Promise<void>;
}): OAuthInstall {
  const { config, db, clock, logger } = opts;
  const store = new DbInstallationStore(db, new TokenCipher(config.tokenEncryptionKey), clock);
  const stateStore = new DbStateStore(db, config.stateSecret);
  // Only for token rotation: InstallProvider.authorize refreshes an expiring token and stores the new one.
  const refresher = new InstallProvider({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    stateStore,
    installationStore: store,
    clientOptions: opts.clientOptions,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (...m: unknown[]) => logger.warn({ component: 'oauth' }, m.map(String).join(' ')),
      error: (...m: unknown[]) => logger.error({ component: 'oauth' }, m.map(String).join(' ')),
      setLevel: () => undefined,
      getLevel: () => LogLevel.WARN,
      setName: () => undefined,
    },
  });
  const tokens: TokenSource = {
    async botToken(teamId: string): Promise<TeamToken | undefined> {
      const ws = await store.workspace(teamId);
      if (!ws) return undefined;
      const nowSec = Math.floor(clock.now().getTime() / 1000);
      if (ws.hasRefreshToken && ws.botTokenExpiresAt !== undefined && ws.botTokenExpiresAt - nowSec <= REFRESH_WINDOW_SECONDS) {
        const res = await refresher.authorize({ teamId, enterpriseId: undefined, isEnterpriseInstall: false });
        if (res.botToken) return { token: res.botToken, expiresAt: res.botTokenExpiresAt };
      }
      return { token: ws.botToken, expiresAt: ws.botTokenExpiresAt };
    },
  };
  const callbackOptions: CallbackOptions = {
    // Refused before anything is stored: settings, runs and caps are kept per workspace.
    afterInstallation: async (installation, _options, _req, res) => {
      if (installation.isEnterpriseInstall || !installation.team) {
        refusedPage(res, 400, 'Installing into a whole Enterprise Grid organisation is not supported: install the app in each workspace.');
        return false;
      }
      return true;
    },
    successAsync: async (installation, _options, _req, res) => {
      const team = installation.team;
      if (team) {
        logger.info({ teamId: team.id, installer: installation.user.id, rotation: Boolean(installation.bot?.refreshToken) }, 'installed into a workspace');
        await appendActivity(db, { at: clock.now().toISOString(), teamId: team.id, actor: installation.user.id, kind: 'app_installed', detail: { botUserId: installation.bot?.userId ?? null, scopes: installation.bot?.scopes ?? [], tokenRotation: Boolean(installation.bot?.refreshToken) } }).catch((err: unknown) =>
          logger.warn({ err: errorMessage(err) }, 'could not record the installation in the activity log'),
        );
        await opts.onInstalled?.(team.id).catch((err: unknown) => logger.warn({ err: errorMessage(err), teamId: team.id }, 'after-install work failed'));
      }
      installedPage(res, team?.name, team?.id ?? '');
    },
    failureAsync: async (error, _options, _req, res) => {
      logger.warn({ code: error.code, err: error.message }, 'an installation did not complete');
      installFailedPage(res, error, INSTALL_PATH);
    },
  };
  return {
    store,
    stateStore,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    stateSecret: config.stateSecret,
    scopes: BOT_SCOPES,
    authorizationUrl: authorizationUrl(opts.apiUrl),
    clientOptions: opts.clientOptions,
    callbackOptions,
    tokens,
  };
}
