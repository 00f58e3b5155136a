import { AppError } from '../../../errors.js';
import { formatDelay, parseDelay } from '../../../agent/durations.js';
import { MAX_APPROVALS } from '../../../agent/approvalPolicy.js';
import { code } from '../../../text/mrkdwn.js';
import { escalationText } from '../../blocks/approvalRules.js';
import { parseUserOrGroup } from '../../mentions.js';
import type { CommandContext } from './context.js';

export const RULE_USAGE =
  'Usage: `/agent trust &lt;action&gt; approvals &lt;1-5&gt;` · `/agent trust &lt;action&gt; expire &lt;delay&gt;|off` · `/agent trust &lt;action&gt; remind &lt;delay&gt; [escalate @group-or-user…]|off` (delays like `30m`, `4h`, `2d`, `1h30m`; 1 minute to 30 days)';

export const RULE_SUBCOMMANDS = ['approvals', 'expire', 'remind'] as const;

function bad(message: string): never {
  throw new AppError('bad_command', `${message}\n${RULE_USAGE}`);
}

/** `/agent trust <action> approvals|expire|remind …`: nothing changes unless the whole command is valid. */
export async function trustRuleCommand(ctx: CommandContext, action: string, sub: string, rest: string[]): Promise<void> {
  const rules = ctx.services.approvalRules;
  const team = ctx.payload.team_id;
  const user = ctx.payload.user_id;
  const tool = code(action);
  if (sub === 'approvals') {
    const n = rest.length === 1 && /^\d$/.test(rest[0]!) ? Number(rest[0]) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_APPROVALS) bad(`Give a number of approvers from 1 to ${MAX_APPROVALS}.`);
    await rules.change(team, user, action, { field: 'approvals', value: n });
    return ctx.ack(
      n === 1
        ? `${tool.value} needs one approval again.`
        : `${tool.value} now needs *${n} different approvers* whenever it asks for approval (never the requester, even with self-approval on; one rejection cancels). "Approve & remember" is not offered for it.`,
    );
  }
  if (sub === 'expire') {
    if (rest.length !== 1) bad('Give one delay, or `off`.');
    if (rest[0] === 'off') {
      await rules.change(team, user, action, { field: 'expire', value: undefined });
      return ctx.ack(`Approval requests for ${tool.value} no longer expire.`);
    }
    const s = parseDelay(rest[0]!);
    if (s === undefined) bad(`${code(rest[0]!).value} is not a delay.`);
    await rules.change(team, user, action, { field: 'expire', value: s });
    return ctx.ack(`Approval requests for ${tool.value} now expire after *${formatDelay(s)}* without a decision: the card closes, nothing is done and the run is cancelled. Cards already waiting keep their deadline.`);
  }
  // remind
  if (rest.length === 1 && rest[0] === 'off') {
    await rules.change(team, user, action, { field: 'remind', value: undefined });
    return ctx.ack(`No more reminders (or escalation) for ${tool.value}.`);
  }
  const [delay, keyword, ...who] = rest;
  const s = delay ? parseDelay(delay) : undefined;
  if (s === undefined) bad(delay ? `${code(delay).value} is not a delay.` : 'Give a delay, or `off`.');
  if (keyword !== undefined && (keyword !== 'escalate' || who.length === 0)) bad('After the delay, only `escalate @group-or-user…` may follow.');
  const users: string[] = [];
  const groups: string[] = [];
  for (const token of who) {
    const parsed = parseUserOrGroup(token);
    if (!parsed) bad(`${code(token).value} is not a user or user group mention.`);
    if ('user' in parsed) users.push(parsed.user);
    else groups.push(parsed.group);
  }
  const escalate = keyword ? { users: [...new Set(users)], groups: [...new Set(groups)] } : undefined;
  await rules.change(team, user, action, { field: 'remind', value: { afterS: s, escalate } });
  const also = escalate ? ` and ${escalationText(escalate).value} may then approve it too (they are told)` : '';
  return ctx.ack(`When an approval request for ${tool.value} waits *${formatDelay(s)}*, its approvers get a direct message${also}. Cards already waiting keep their schedule.`);
}
