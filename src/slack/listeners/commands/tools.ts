import { AppError } from '../../../errors.js';
import { code } from '../../../text/mrkdwn.js';
import { renderRefresh, renderTools } from '../../blocks/tools.js';
import type { CommandContext } from './context.js';

const USAGE = 'Usage: `/agent tools` · `/agent tools refresh` · `/agent tools accept &lt;server&gt;__&lt;tool&gt;|&lt;server&gt;__*`';

/** `/agent tools [refresh | accept <name>]`. */
export async function toolsCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const { mcp, trust } = ctx.services;
  const team = ctx.payload.team_id;
  const user = ctx.payload.user_id;
  const [first, second, ...rest] = args;
  if (!first) {
    const r = renderTools(await mcp.overview(team));
    return ctx.ack(r.text, r.blocks);
  }
  if (first === 'refresh' && !second) {
    await trust.requireAdmin(team, user, 'refresh the MCP tools');
    if (!mcp.configured) throw new AppError('bad_command', 'No MCP servers are configured: set `MCP_CONFIG` to the path of a server file (see docs/connectors.md) and restart.');
    // Listing waits for slow or unreachable servers (up to their connect timeout): answer Slack first.
    await ctx.ack(':hourglass_flowing_sand: Listing the MCP servers\' tools again…');
    const report = await mcp.refresh(team, user);
    return ctx.ack(renderRefresh(report));
  }
  if (first === 'accept' && second && rest.length === 0) {
    const accepted = await mcp.accept(team, user, second);
    return ctx.ack(
      `Accepted the definition the server offers now for ${accepted.map((n) => code(n).value).join(', ')}: the modes set for ${accepted.length === 1 ? 'it apply' : 'them apply'} again. If the server changes ${accepted.length === 1 ? 'it' : 'one'} later, ${accepted.length === 1 ? 'it asks' : 'that tool asks'} for approval until accepted again.`,
    );
  }
  throw new AppError('bad_command', `${first === 'accept' ? 'Name one MCP tool, or `<server>__*` for all of a server\'s tools.' : `I don't know ${code(first).value} here.`}\n${USAGE}`);
}
