/**
 * The OAuth part of the Slack fake: Slack's authorize page (driven from the test as "the person clicks
 * Allow / Cancel") and `oauth.v2.access`, which exchanges a code for a workspace's bot token or, with token
 * rotation, a refresh token for a new access token.
 *
 * Like Slack: a code is good once and for 10 minutes; the client id and secret must match (form fields or
 * HTTP Basic); a redirect_uri given on the authorize page must be given again, identically; with rotation,
 * access tokens expire after `expiresInSec` and each refresh hands out a new refresh token (the old one
 * stops working). Failures answer HTTP 200 with `{ ok: false, error }`.
 */
import { randomBytes } from 'node:crypto';

export interface FakeSlackOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** Slack's token rotation (`token_rotation_enabled` in the manifest): tokens expire after this many seconds. */
  tokenRotation?: { expiresInSec: number };
}

/** A workspace as the fake knows it; the fake's core creates one per team on first install. */
export interface FakeOAuthWorkspace {
  teamId: string;
  teamName: string;
  botUserId: string;
  botId: string;
}

export interface FakeOAuthDeps {
  appId: string;
  /** The fake's clock (ms): token expiry follows it, so tests can move time. */
  now(): number;
  workspace(teamId: string, teamName: string | undefined): FakeOAuthWorkspace;
  /** Makes a bot token valid for the workspace (until `expiresAt`, in `now()` ms, when set). */
  addToken(token: string, ws: FakeOAuthWorkspace, expiresAt: number | undefined): void;
}

export interface FakeInstallWho {
  teamId: string;
  teamName?: string;
  /** The person installing (authed_user.id). */
  userId?: string;
  /** Where Slack sends the browser back when the authorize URL names none (the app's configured URL). */
  redirectUri?: string;
}

export interface FakeSlackOAuth {
  /** The person clicks "Allow" on the authorize page: the URL Slack redirects the browser to (code + state). */
  approve(authorizeUrl: string, who: FakeInstallWho): string;
  /** The person clicks "Cancel": the redirect with `error=access_denied`. */
  deny(authorizeUrl: string, redirectUri?: string): string;
  /** Every token handed out, in order (installs and refreshes). */
  issued: Array<{ teamId: string; botToken: string; refreshToken?: string; via: 'code' | 'refresh_token' }>;
}

export interface FakeOAuthServer {
  api: FakeSlackOAuth;
  /** `oauth.v2.access`: needs no bearer token. */
  access(args: Record<string, unknown>, authHeader: string | undefined): Record<string, unknown> & { ok: boolean; error?: string };
}

const CODE_TTL_MS = 10 * 60_000;

interface Grant {
  who: Required<Pick<FakeInstallWho, 'teamId' | 'userId'>> & { teamName: string | undefined };
  scope: string;
  redirectUri: string | undefined;
  expiresAt: number;
  used: boolean;
}

const token = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;

export function createFakeOAuth(opts: FakeSlackOAuthOptions, deps: FakeOAuthDeps): FakeOAuthServer {
  const grants = new Map<string, Grant>();
  const refreshTokens = new Map<string, { teamId: string; scope: string }>();
  const issued: FakeSlackOAuth['issued'] = [];

  const authorizeParams = (authorizeUrl: string): URLSearchParams => {
    const url = new URL(authorizeUrl);
    if (url.pathname !== '/oauth/v2/authorize') throw new Error(`fakeSlack OAuth: not Slack's authorize page: ${authorizeUrl}`);
    if (url.searchParams.get('client_id') !== opts.clientId) throw new Error('fakeSlack OAuth: the authorize page says invalid_client_id');
    if (!url.searchParams.get('scope')) throw new Error('fakeSlack OAuth: the authorize page says invalid_scope (no scope asked for)');
    return url.searchParams;
  };

  const back = (redirectUri: string, params: Record<string, string>): string => {
    const u = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  };

  const issue = (ws: FakeOAuthWorkspace, scope: string, via: 'code' | 'refresh_token') => {
    const rotation = opts.tokenRotation;
    const access = token(rotation ? 'xoxe.xoxb-1-' : `xoxb-${ws.teamId}-`);
    deps.addToken(access, ws, rotation ? deps.now() + rotation.expiresInSec * 1000 : undefined);
    const refresh = rotation ? token('xoxe-1-') : undefined;
    if (refresh) refreshTokens.set(refresh, { teamId: ws.teamId, scope });
    issued.push({ teamId: ws.teamId, botToken: access, ...(refresh ? { refreshToken: refresh } : {}), via });
    return {
      access_token: access,
      token_type: 'bot',
      scope,
      bot_user_id: ws.botUserId,
      app_id: deps.appId,
      team: { id: ws.teamId, name: ws.teamName },
      enterprise: null,
      is_enterprise_install: false,
      ...(rotation && refresh ? { refresh_token: refresh, expires_in: rotation.expiresInSec } : {}),
    };
  };

  const clientOf = (args: Record<string, unknown>, authHeader: string | undefined): { id?: string; secret?: string } => {
    const basic = authHeader?.match(/^Basic\s+(.+)$/i)?.[1];
    if (basic) {
      const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      return { ...(id ? { id } : {}), ...(secret ? { secret } : {}) };
    }
    return {
      ...(typeof args.client_id === 'string' ? { id: args.client_id } : {}),
      ...(typeof args.client_secret === 'string' ? { secret: args.client_secret } : {}),
    };
  };

  const api: FakeSlackOAuth = {
    issued,
    approve(authorizeUrl, who) {
      const params = authorizeParams(authorizeUrl);
      const redirectUri = params.get('redirect_uri') ?? who.redirectUri;
      if (!redirectUri) throw new Error('fakeSlack OAuth: no redirect_uri in the authorize URL and none configured');
      const code = token(`${Date.now()}.`);
      grants.set(code, {
        who: { teamId: who.teamId, teamName: who.teamName, userId: who.userId ?? `U_INSTALLER_${who.teamId}` },
        scope: params.get('scope') ?? '',
        redirectUri: params.get('redirect_uri') ?? undefined,
        expiresAt: deps.now() + CODE_TTL_MS,
        used: false,
      });
      const state = params.get('state');
      return back(redirectUri, { code, ...(state !== null ? { state } : {}) });
    },
    deny(authorizeUrl, redirectUri) {
      const params = authorizeParams(authorizeUrl);
      const to = params.get('redirect_uri') ?? redirectUri;
      if (!to) throw new Error('fakeSlack OAuth: no redirect_uri');
      const state = params.get('state');
      return back(to, { error: 'access_denied', ...(state !== null ? { state } : {}) });
    },
  };

  return {
    api,
    access(args, authHeader) {
      const client = clientOf(args, authHeader);
      if (client.id !== opts.clientId) return { ok: false, error: 'invalid_client_id' };
      if (client.secret !== opts.clientSecret) return { ok: false, error: 'bad_client_secret' };
      if (args.grant_type === 'refresh_token') {
        const refresh = typeof args.refresh_token === 'string' ? refreshTokens.get(args.refresh_token) : undefined;
        if (!refresh) return { ok: false, error: 'invalid_refresh_token' };
        refreshTokens.delete(args.refresh_token as string);
        return { ok: true, ...issue(deps.workspace(refresh.teamId, undefined), refresh.scope, 'refresh_token') };
      }
      const code = typeof args.code === 'string' ? args.code : undefined;
      const grant = code ? grants.get(code) : undefined;
      if (!grant || grant.used || deps.now() > grant.expiresAt) return { ok: false, error: 'invalid_code' };
      if (grant.redirectUri !== undefined && args.redirect_uri !== grant.redirectUri) return { ok: false, error: 'bad_redirect_uri' };
      grant.used = true;
      const ws = deps.workspace(grant.who.teamId, grant.who.teamName);
      return { ok: true, ...issue(ws, grant.scope, 'code'), authed_user: { id: grant.who.userId } };
    },
  };
}
