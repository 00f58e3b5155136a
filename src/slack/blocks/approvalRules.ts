import { formatDelay } from '../../agent/durations.js';
import type { ApprovalRule } from '../../db/repos/approvalRules.js';
import { joinMd, mention, subteamRef, trusted, type Mrkdwn } from '../../text/mrkdwn.js';

/** The backup approvers of an escalation, as mentions built from stored ids. */
export function escalationText(e: { users: string[]; groups: string[] }): Mrkdwn {
  return joinMd([...e.groups.map(subteamRef), ...e.users.map(mention)], trusted(' '));
}

/** An action type's approval rule in words for `/agent trust`, or '' when none is set. */
export function ruleText(rule: ApprovalRule | undefined): string {
  if (!rule) return '';
  const parts: string[] = [];
  if (rule.approvals && rule.approvals > 1) parts.push(`${rule.approvals} approvers`);
  if (rule.remindAfterS) parts.push(`reminder after ${formatDelay(rule.remindAfterS)}${rule.escalate ? `, then ${escalationText(rule.escalate).value} may approve too` : ''}`);
  if (rule.expireAfterS) parts.push(`expires after ${formatDelay(rule.expireAfterS)}`);
  return parts.join('; ');
}
