import { AppError } from '../../../errors.js';
import { TRUST_MODES } from '../../../policy/catalog.js';
import type { TrustMode } from '../../../db/schema.js';
import { renderTrust, trustEditModal } from '../../blocks/trust.js';
import { parseChannel, parseUserOrGroup } from '../../mentions.js';
import { isTimeZone } from '../../../agent/cron.js';
import { code, mention, subteamRef } from '../../../text/mrkdwn.js';
import type { CommandContext } from './context.js';
import { RULE_SUBCOMMANDS, trustRuleCommand } from './trustRules.js';

const USAGE =
  'Usage: `/agent trust` · `/agent trust edit` · `/agent trust &lt;action&gt; &lt;require_approval|auto_notify|full_auto&gt;` (MCP tools: `&lt;server&gt;__&lt;tool&gt;` or `&lt;server&gt;__*`) · `/agent trust &lt;action&gt; approvers @user @group…|anyone` · `/agent trust &lt;action&gt; approvals &lt;1-5&gt;` · `/agent trust &lt;action&gt; expire &lt;delay&gt;|off` · `/agent trust &lt;action&gt; remind &lt;delay&gt; [escalate @group…]|off` · `/agent trust &lt;action&gt; mentions on|off` · `/agent trust announce on|off` · `/agent trust self-approval on|off` · `/agent trust others-replies ignore|context` · `/agent trust route thread|#channel` · `/agent trust digest &lt;hour 0-23&gt; [time zone]`';

function bad(message: string): never {
  throw new AppError('bad_command', `${message}\n${USAGE}`);
}

export async function trustCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const { trust, client } = { trust: ctx.services.trust, client: ctx.client };
  const team = ctx.payload.team_id;
  const user = ctx.payload.user_id;
  const [first, second, ...rest] = args;

  if (!first) {
    const r = renderTrust(await trust.view(team), await ctx.services.approvalRules.list(team));
    return ctx.ack(r.text, r.blocks);
  }
  if (first === 'edit') {
    await trust.requireAdmin(team, user, 'change trust levels');
    if (!ctx.payload.trigger_id) bad('Slack did not send a trigger id, so the editor cannot open.');
    await client.views.open({ trigger_id: ctx.payload.trigger_id, view: trustEditModal(await trust.view(team)) as never });
    return ctx.ack('Opening the trust editor…');
  }
  if (first === 'self-approval') {
    if (second !== 'on' && second !== 'off') bad('Say `on` or `off`.');
    await trust.setSelfApproval(team, user, second === 'on');
    return ctx.ack(second === 'on' ? 'Requesters may now approve their own runs\' actions.' : 'Self-approval is off: someone other than the requester must decide.');
  }
  if (first === 'announce') {
    if (second !== 'on' && second !== 'off') bad('Say `on` or `off`.');
    await trust.setAnnounceCards(team, user, second === 'on');
    return ctx.ack(second === 'on' ? 'A card posted in a task thread is now also shown in the channel.' : 'Cards posted in a task thread now stay in the thread (they still mention who may decide).');
  }
  if (first === 'others-replies') {
    if (second !== 'ignore' && second !== 'context') bad('Say `ignore` or `context`.');
    await trust.setOthersReplies(team, user, second);
    return ctx.ack(
      second === 'context'
        ? "Replies in a task thread from people other than the requester now reach the run as context, labelled untrusted; they are never instructions."
        : 'Replies in a task thread from people other than the requester are ignored; only the requester steers a run.',
    );
  }
  if (first === 'route') {
    if (second === 'thread') {
      await trust.setRoute(team, user, 'thread');
      return ctx.ack('Approval cards now go to each task\'s thread.');
    }
    const channel = second ? parseChannel(second) : undefined;
    if (!channel) bad('Name a channel like `#approvals`, or `thread`.');
    await trust.setRoute(team, user, channel);
    return ctx.ack(`Approval cards now go to <#${channel}>, linked from each task thread. Invite me there if I am not a member; until then cards fall back to the thread.`);
  }
  if (first === 'digest') {
    const hour = Number(second);
    if (!second || !Number.isInteger(hour) || hour < 0 || hour > 23) bad('Give an hour from 0 to 23.');
    const tz = rest[0];
    if (tz && !isTimeZone(tz)) bad(`${code(tz).value} is not a time zone (for example Europe/Paris).`);
    await trust.setDigest(team, user, hour, tz);
    const zone = tz ?? (await trust.view(team)).settings.digestTimezone ?? 'UTC';
    return ctx.ack(`The pending-approvals digest will be posted daily at ${String(hour).padStart(2, '0')}:00 ${zone} when the queue is long.`);
  }
  const action = first;
  if (second && (RULE_SUBCOMMANDS as readonly string[]).includes(second)) return trustRuleCommand(ctx, action, second, rest);
  if (second === 'mentions') {
    const on = rest[0];
    if (on !== 'on' && on !== 'off') bad('Say `on` or `off`.');
    await trust.setCardMentions(team, user, action, on === 'on');
    return ctx.ack(
      on === 'on'
        ? `Cards for ${code(action).value} now mention their approvers (or the requester when anyone may approve).`
        : `Cards for ${code(action).value} no longer mention anyone.`,
    );
  }
  if (second === 'approvers') {
    if (rest.length === 0) bad('List the approvers, or say `anyone`.');
    if (rest.length === 1 && rest[0] === 'anyone') {
      await trust.setApprovers(team, user, action, null);
      return ctx.ack(`Anyone who sees the card may now approve ${code(action).value}.`);
    }
    const users: string[] = [];
    const groups: string[] = [];
    for (const token of rest) {
      const who = parseUserOrGroup(token);
      if (!who) bad(`${code(token).value} is not a user or user group mention.`);
      if ('user' in who) users.push(who.user);
      else groups.push(who.group);
    }
    await trust.setApprovers(team, user, action, { users, groups });
    return ctx.ack(`Only ${[...users.map((u) => mention(u).value), ...groups.map((g) => subteamRef(g).value)].join(', ')} may now approve ${code(action).value}.`);
  }
  if (second && (TRUST_MODES as readonly string[]).includes(second) && rest.length === 0) {
    const { before, after, overriddenBy } = await trust.setMode(team, user, action, second as TrustMode);
    const notes: string[] = [];
    if (action.includes('__')) {
      notes.push('The definition the MCP server offers now is remembered: if the server changes it, calls need approval again until an admin runs `/agent tools accept`.');
    }
    if (overriddenBy?.length) notes.push(`These keep their own setting: ${overriddenBy.map((n) => code(n).value).join(', ')}.`);
    return ctx.ack([`${code(action).value}: ${before} → *${after}*.`, ...notes].join(' '));
  }
  bad(second ? `${code(second).value} is not a mode.` : `What should ${code(action).value} be?`);
}
