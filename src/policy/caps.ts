/** The spend and turn limits, as configured (env defaults, overridden per workspace by admins). */
export interface Caps {
  runUsd: number;
  userDayUsd: number;
  workspaceDayUsd: number;
  turns: number;
}

export type CapName = 'run' | 'user-day' | 'workspace-day' | 'turns';
export const CAP_NAMES: readonly CapName[] = ['run', 'user-day', 'workspace-day', 'turns'];

export interface CapUsage {
  runUsd: number;
  turns: number;
  userDayUsd: number;
  workspaceDayUsd: number;
}

export type CapCheck = { ok: true } | { ok: false; cap: CapName; used: number; limit: number };

/**
 * Checked before every model call. Pure, like decide(). Because the check happens before each call and
 * each call's output is bounded by max_tokens, a run overshoots a cap by at most one call.
 */
export function checkCaps(usage: CapUsage, caps: Caps): CapCheck {
  if (usage.runUsd >= caps.runUsd) return { ok: false, cap: 'run', used: usage.runUsd, limit: caps.runUsd };
  if (usage.turns >= caps.turns) return { ok: false, cap: 'turns', used: usage.turns, limit: caps.turns };
  if (usage.userDayUsd >= caps.userDayUsd) return { ok: false, cap: 'user-day', used: usage.userDayUsd, limit: caps.userDayUsd };
  if (usage.workspaceDayUsd >= caps.workspaceDayUsd) return { ok: false, cap: 'workspace-day', used: usage.workspaceDayUsd, limit: caps.workspaceDayUsd };
  return { ok: true };
}

export function describeCapStop(c: Exclude<CapCheck, { ok: true }>): string {
  const money = (n: number) => `$${n.toFixed(4)}`;
  switch (c.cap) {
    case 'run':
      return `This run reached its spend cap: ${money(c.used)} spent of ${money(c.limit)}.`;
    case 'turns':
      return `This run reached its limit of ${c.limit} model turns.`;
    case 'user-day':
      return `The requester reached today's spend cap: ${money(c.used)} of ${money(c.limit)} (UTC day).`;
    case 'workspace-day':
      return `This workspace reached today's spend cap: ${money(c.used)} of ${money(c.limit)} (UTC day).`;
  }
}
