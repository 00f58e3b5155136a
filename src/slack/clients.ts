import { WebClient, type WebAPICallResult, type WebClientOptions } from '@slack/web-api';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

/**
 * Web API clients for the app's own calls (the outbox, user and group lookups, permalinks): every call is
 * made with the token of the workspace it concerns. Bolt's listeners get theirs from `context.botToken`.
 */
export interface SlackClients {
  /** The client for this workspace; throws AppError('not_installed') when the app has no token there. */
  forTeam(teamId: string): Promise<WebClient>;
  /** Forgets what is cached for a workspace (uninstalled, tokens revoked). */
  forget(teamId: string): void;
}

/** Single-workspace mode (SLACK_BOT_TOKEN): one token for everything. */
export class SingleTokenClients implements SlackClients {
  private readonly client: WebClient;

  constructor(token: string, options: WebClientOptions) {
    this.client = new WebClient(token, options);
  }

  async forTeam(): Promise<WebClient> {
    return this.client;
  }

  forget(): void {}
}

/** A workspace's current bot token, as the installation store (and token rotation) provide it. */
export interface TeamToken {
  token: string;
  /** Unix seconds; set when token rotation is on. */
  expiresAt?: number | undefined;
}

export interface TokenSource {
  /** The workspace's bot token (refreshed first when rotation is on and it expires soon), or undefined. */
  botToken(teamId: string): Promise<TeamToken | undefined>;
}

/** Slack's answers meaning the token itself is no good (revoked, replaced, expired). */
const AUTH_FAILURES = new Set(['invalid_auth', 'token_revoked', 'token_expired', 'account_inactive', 'not_authed']);

function isAuthFailure(err: unknown): boolean {
  return AUTH_FAILURES.has((err as { data?: { error?: string } }).data?.error ?? '');
}

/**
 * A workspace's client that notices when its token has been replaced: another instance may have seen the
 * workspace reinstall (new token, old one revoked) while this one still had the old token cached. On an
 * auth failure the call is made once more with the currently stored token, if it is a different one (the
 * failed call did nothing, so repeating it is safe); with the same token the failure stands.
 */
class TeamClient extends WebClient {
  constructor(
    readonly tokenValue: string,
    options: WebClientOptions,
    private readonly reload: (stale: string) => Promise<TeamClient>,
  ) {
    super(tokenValue, options);
  }

  override async apiCall(method: string, options?: Record<string, unknown>): Promise<WebAPICallResult> {
    try {
      return await super.apiCall(method, options);
    } catch (err) {
      if (!isAuthFailure(err)) throw err;
      const fresh = await this.reload(this.tokenValue);
      if (fresh.tokenValue === this.tokenValue) throw err;
      return fresh.apiCall(method, options);
    }
  }
}

/**
 * OAuth mode: one client per workspace, built from its stored token. Tokens are cached briefly (every
 * outbox delivery asks), never past a rotating token's expiry, and concurrent first asks share one lookup.
 */
export class InstalledClients implements SlackClients {
  private readonly cache = new Map<string, { token: string; client: TeamClient; until: number }>();
  private readonly loading = new Map<string, Promise<TeamClient>>();

  constructor(
    private readonly tokens: TokenSource,
    private readonly options: WebClientOptions,
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
  ) {}

  forTeam(teamId: string): Promise<WebClient> {
    return this.client(teamId);
  }

  private client(teamId: string): Promise<TeamClient> {
    const now = this.clock.now().getTime();
    const hit = this.cache.get(teamId);
    if (hit && now < hit.until) return Promise.resolve(hit.client);
    const pending = this.loading.get(teamId);
    if (pending) return pending;
    const load = this.load(teamId, now).finally(() => this.loading.delete(teamId));
    this.loading.set(teamId, load);
    return load;
  }

  forget(teamId: string): void {
    this.cache.delete(teamId);
  }

  private async load(teamId: string, now: number): Promise<TeamClient> {
    const found = await this.tokens.botToken(teamId);
    if (!found) {
      this.cache.delete(teamId);
      throw new AppError('not_installed', `The app is not installed in workspace ${teamId} (it was uninstalled or never installed).`);
    }
    const previous = this.cache.get(teamId);
    const client =
      previous && previous.token === found.token
        ? previous.client
        : new TeamClient(found.token, this.options, async (stale) => {
            // Only the first failing call drops the cache; calls failing with an older token reuse the reload.
            if (this.cache.get(teamId)?.token === stale) this.cache.delete(teamId);
            return this.client(teamId);
          });
    // A rotating token is dropped from the cache a minute before it expires, so it is refreshed in time.
    const until = Math.min(now + this.ttlMs, found.expiresAt !== undefined ? found.expiresAt * 1000 - 60_000 : Infinity);
    this.cache.set(teamId, { token: found.token, client, until });
    return client;
  }
}
