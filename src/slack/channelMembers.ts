import { z } from 'zod';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ChannelMembers } from '../agent/home.js';
import { errorMessage } from '../errors.js';
import type { SlackClients } from './clients.js';

const membersPageSchema = z.looseObject({
  members: z.array(z.string()).default([]),
  response_metadata: z.looseObject({ next_cursor: z.string().optional() }).optional(),
});

/** Pages read per channel at most (1,000 members each): a bound on one lookup's cost. */
const MAX_PAGES = 20;

/**
 * Channel membership from Slack's conversations.members, cached briefly (a Home view is rebuilt after
 * every change; membership rarely changes that fast). A channel Slack will not list (private and the app
 * is not in it, archived, an error, a rate limit) counts as "not a member": seeing a run needs proof.
 * A failure is cached too, for a shorter time, so a broken channel is not asked again on every publish.
 */
export class SlackChannelMembers implements ChannelMembers {
  private readonly cache = new Map<string, { at: number; ttl: number; members: Set<string> }>();

  constructor(
    private readonly clients: SlackClients,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly ttlMs = 60_000,
    private readonly failureTtlMs = 10_000,
    private readonly maxEntries = 2_000,
  ) {}

  async isMember(teamId: string, channel: string, userId: string): Promise<boolean> {
    // A DM channel's only human is the person the app talks with; it is listed for its requester anyway.
    if (channel.startsWith('D')) return false;
    return (await this.members(teamId, channel)).has(userId);
  }

  private async members(teamId: string, channel: string): Promise<Set<string>> {
    const key = `${teamId}:${channel}`;
    const now = this.clock.now().getTime();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < hit.ttl) return hit.members;
    let members = new Set<string>();
    let ttl = this.ttlMs;
    try {
      const client = await this.clients.forTeam(teamId);
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = membersPageSchema.parse(await client.conversations.members({ channel, limit: 1000, ...(cursor ? { cursor } : {}) }));
        for (const m of res.members) members.add(m);
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!cursor) break;
      }
    } catch (err) {
      this.logger.info({ channel, err: errorMessage(err) }, 'could not list the channel members; treating the viewer as not a member');
      members = new Set();
      ttl = this.failureTtlMs;
    }
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { at: now, ttl, members });
    return members;
  }
}
