import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidStateError, type InstallURLOptions, type StateStore } from '@slack/oauth';
import { z } from 'zod';
import type { Db } from '../../db/connection.js';
import { parseStoredJson } from '../../db/json.js';

/** How long a started install may take before its state is refused (Slack's own default is 10 minutes). */
export const STATE_TTL_SECONDS = 600;

const installOptionsSchema = z.looseObject({
  scopes: z.union([z.string(), z.array(z.string())]),
  teamId: z.string().optional(),
  redirectUri: z.string().optional(),
  userScopes: z.union([z.string(), z.array(z.string())]).optional(),
  metadata: z.string().optional(),
});

const sha256 = (v: string) => createHash('sha256').update(v).digest('hex');

/**
 * The OAuth `state` of each install flow: a random value signed with SLACK_STATE_SECRET, remembered in the
 * database (as a hash) until the callback uses it. A state the app did not sign is refused without a
 * lookup; a signed one is accepted once (the row is deleted by the callback that uses it, so a replayed
 * state finds nothing), and only within STATE_TTL_SECONDS. Bolt additionally checks that the browser that
 * comes back carries the state in its cookie. Works across instances: the state lives in the database.
 */
export class DbStateStore implements StateStore {
  constructor(
    private readonly db: Db,
    private readonly secret: string,
  ) {}

  async generateStateParam(installOptions: InstallURLOptions, now: Date): Promise<string> {
    const nonce = randomBytes(32).toString('base64url');
    const at = now.toISOString();
    // Abandoned flows leave rows behind: clear the expired ones while we are here.
    await this.db.deleteFrom('slack_oauth_states').where('expires_at', '<', at).execute();
    await this.db
      .insertInto('slack_oauth_states')
      .values({
        state_hash: sha256(nonce),
        install_options_json: JSON.stringify(installOptions),
        created_at: at,
        expires_at: new Date(now.getTime() + STATE_TTL_SECONDS * 1000).toISOString(),
      })
      .execute();
    return `${nonce}.${this.sign(nonce)}`;
  }

  async verifyStateParam(now: Date, state: string): Promise<InstallURLOptions> {
    const [nonce, mac, ...rest] = state.split('.');
    if (!nonce || !mac || rest.length > 0 || !this.signatureMatches(nonce, mac)) {
      throw new InvalidStateError('The state parameter was not issued by this app.');
    }
    const hash = sha256(nonce);
    const row = await this.db.selectFrom('slack_oauth_states').selectAll().where('state_hash', '=', hash).executeTakeFirst();
    // Deleting is the claim: of two callbacks racing with one state, exactly one deletes the row.
    const claimed = row ? Number((await this.db.deleteFrom('slack_oauth_states').where('state_hash', '=', hash).executeTakeFirst()).numDeletedRows) === 1 : false;
    if (!row || !claimed) throw new InvalidStateError('The state parameter was already used (or never issued): start the installation again.');
    if (Date.parse(row.expires_at) < now.getTime()) throw new InvalidStateError('The installation took too long: start it again.');
    return parseStoredJson(installOptionsSchema, row.install_options_json, 'install options') as InstallURLOptions;
  }

  private sign(nonce: string): string {
    return createHmac('sha256', this.secret).update(`slack-oauth-state:${nonce}`).digest('base64url');
  }

  private signatureMatches(nonce: string, mac: string): boolean {
    const expected = Buffer.from(this.sign(nonce));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
