import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { UserDirectory, UserProfile } from '../agent/surface.js';
import type { GroupDirectory } from '../agent/trust.js';
import type { SlackClients } from './clients.js';

const userInfoSchema = z.looseObject({
  user: z.looseObject({
    id: z.string(),
    name: z.string().optional(),
    real_name: z.string().optional(),
    tz: z.string().optional(),
    is_admin: z.boolean().optional(),
    is_owner: z.boolean().optional(),
    is_primary_owner: z.boolean().optional(),
    profile: z
      .looseObject({ real_name: z.string().optional(), display_name: z.string().optional(), email: z.string().optional() })
      .optional(),
  }),
});

/**
 * users.info with a short cache: admin checks happen on every admin command and profile lookups on
 * every email card, and Slack rate-limits users.info. Asked with the workspace's own token.
 */
export class SlackUserDirectory implements UserDirectory {
  private readonly cache = new Map<string, { at: number; profile: UserProfile | undefined }>();

  constructor(
    private readonly clients: SlackClients,
    private readonly clock: Clock,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  async lookup(teamId: string, userId: string): Promise<UserProfile | undefined> {
    const key = `${teamId}:${userId}`;
    const hit = this.cache.get(key);
    const now = this.clock.now().getTime();
    if (hit && now - hit.at < this.ttlMs) return hit.profile;
    let profile: UserProfile | undefined;
    try {
      const res = userInfoSchema.parse(await (await this.clients.forTeam(teamId)).users.info({ user: userId }));
      const u = res.user;
      profile = {
        id: u.id,
        name: u.profile?.real_name || u.real_name || u.profile?.display_name || u.name,
        email: u.profile?.email,
        isAdmin: Boolean(u.is_admin || u.is_owner || u.is_primary_owner),
        tz: u.tz,
      };
    } catch (err) {
      if ((err as { data?: { error?: string } }).data?.error === 'user_not_found') profile = undefined;
      else throw err;
    }
    this.cache.set(key, { at: now, profile });
    return profile;
  }
}

const groupUsersSchema = z.looseObject({ users: z.array(z.string()) });

/** usergroups.users.list with the same short cache: approver checks run on every click. */
export class SlackGroupDirectory implements GroupDirectory {
  private readonly cache = new Map<string, { at: number; members: string[] }>();

  constructor(
    private readonly clients: SlackClients,
    private readonly clock: Clock,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  async members(teamId: string, groupId: string): Promise<string[]> {
    const key = `${teamId}:${groupId}`;
    const now = this.clock.now().getTime();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.members;
    const res = groupUsersSchema.parse(await (await this.clients.forTeam(teamId)).usergroups.users.list({ usergroup: groupId }));
    this.cache.set(key, { at: now, members: res.users });
    return res.users;
  }
}
