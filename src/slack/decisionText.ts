import type { Action } from '../db/schema.js';
import { slackDate } from './blocks/text.js';

/** What a late clicker is told privately: who decided, and when. */
export function alreadyDecidedText(action: Action): string {
  const by = action.decided_by && action.decided_by !== 'policy' ? `<@${action.decided_by}>` : 'the app';
  const when = action.decided_at ? ` ${slackDate(action.decided_at)}` : '';
  switch (action.status) {
    case 'approved':
    case 'dispatching':
    case 'succeeded':
    case 'failed':
    case 'outcome_unknown':
      return `This was already approved by ${by}${when}. Nothing was changed.`;
    case 'rejected':
      return `This was already rejected by ${by}${when}. Nothing was changed.`;
    case 'cancelled':
      return `This action was cancelled (${action.decision_note ?? 'the run ended'}). Nothing was changed.`;
    case 'pending':
      return 'This action can no longer be decided: its run has ended.';
  }
}
