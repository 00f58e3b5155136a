import { AppError } from '../../../errors.js';
import { CAP_NAMES, type CapName } from '../../../policy/caps.js';
import { usd } from '../../blocks/text.js';
import { code } from '../../../text/mrkdwn.js';
import type { CommandContext } from './context.js';

const USAGE = 'Usage: `/agent caps` · `/agent caps &lt;run|user-day|workspace-day|turns&gt; &lt;value&gt;` (USD, or a number of turns)';

/** `/agent caps`: anyone views; admins change one cap. */
export async function capsCommand(ctx: CommandContext, args: string[]): Promise<void> {
  const caps = ctx.services.caps;
  const team = ctx.payload.team_id;
  if (args.length === 0) {
    const c = await caps.capsFor(team);
    const today = await caps.spendToday(team);
    return ctx.ack(
      [
        '*Spend caps* (checked before every model call)',
        `• \`run\`: ${usd(c.runUsd)} per run`,
        `• \`user-day\`: ${usd(c.userDayUsd)} per person per UTC day`,
        `• \`workspace-day\`: ${usd(c.workspaceDayUsd)} per UTC day — ${usd(today)} spent today`,
        `• \`turns\`: ${c.turns} model turns per run`,
        USAGE,
      ].join('\n'),
    );
  }
  const [name, raw, ...extra] = args;
  if (!name || !(CAP_NAMES as readonly string[]).includes(name) || raw === undefined || extra.length) {
    throw new AppError('bad_command', `${name && !(CAP_NAMES as readonly string[]).includes(name) ? `${code(name).value} is not a cap. ` : ''}${USAGE}`);
  }
  const value = Number(raw.replace(/^\$/, ''));
  const r = await caps.set(team, ctx.payload.user_id, name as CapName, value);
  const fmt = (n: number) => (name === 'turns' ? String(n) : usd(n));
  await ctx.ack(`\`${name}\` cap: ${fmt(r.before)} → *${fmt(r.after)}*.`);
}
