import type { Db } from '../db/connection.js';
import { listTrustSettings, type Approvers } from '../db/repos/trust.js';
import { getWorkspace, settingsOf } from '../db/repos/workspace.js';
import type { Run } from '../db/schema.js';
import type { ToolRegistry } from '../tools/registry.js';
import { serverPattern } from '../tools/mcp/names.js';
import type { Deciders } from './surface.js';
import { md, mention, trusted, type Mrkdwn } from '../text/mrkdwn.js';

/** The approvers an admin named for a tool: its own, else (MCP) its server's. Same rule as TrustService.canApprove. */
export async function namedApprovers(db: Db, registry: ToolRegistry, teamId: string, tool: string): Promise<Approvers | undefined> {
  const settings = await listTrustSettings(db, teamId);
  const server = registry.get(tool)?.external?.server;
  const approvers = settings.get(tool)?.approvers ?? (server ? settings.get(serverPattern(server))?.approvers : undefined);
  if (!approvers || (approvers.users.length === 0 && approvers.groups.length === 0)) return undefined;
  return approvers;
}

/**
 * Who a waiting card mentions, so that someone who may decide hears about it: the named approvers, or the
 * requester when anyone may approve (they asked, and nobody follows the bot's thread). Nobody when an
 * admin made the action type quiet. Only stored ids: the card renders them with `mention`/`subteamRef`.
 */
export async function decidersOf(db: Db, registry: ToolRegistry, run: Pick<Run, 'team_id' | 'requester_id'>, tool: string): Promise<{ deciders: Deciders | undefined; announce: boolean }> {
  const settings = settingsOf(await getWorkspace(db, run.team_id));
  const announce = settings.announceCards;
  if (settings.quietCards.includes(tool)) return { deciders: undefined, announce };
  const named = await namedApprovers(db, registry, run.team_id, tool);
  return { deciders: named ? { users: [...named.users], groups: [...named.groups] } : { users: [run.requester_id], groups: [] }, announce };
}

/**
 * The requester's mention for a line that ends their run (done, failed, stopped, cancelled), so they hear
 * about it: not when they caused it themselves, nor in a DM, which notifies them anyway.
 */
export function requesterPing(run: Pick<Run, 'requester_id' | 'channel_id'>, actor?: string): Mrkdwn {
  if (run.channel_id.startsWith('D') || actor === run.requester_id) return trusted('');
  return md`${mention(run.requester_id)} `;
}

/**
 * What follows the final answer of a run that completed: the requester's mention, so they hear that the
 * answer is there (nothing in a DM, which notifies them anyway). `cut` is the note that the answer was cut.
 */
export function doneNote(run: Pick<Run, 'requester_id' | 'channel_id'>, cut = ''): Mrkdwn | undefined {
  const ping = requesterPing(run);
  if (ping.value === '' && cut === '') return undefined;
  return md`${trusted(cut)}${ping.value === '' ? trusted('') : md`\n\n:white_check_mark: ${ping}this run is complete.`}`;
}
