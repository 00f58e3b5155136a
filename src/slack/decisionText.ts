import type { Action } from '../db/schema.js';
import { dateRef, md, mention, trusted, withUserMentions } from '../text/mrkdwn.js';
import { truncate } from './blocks/text.js';
import { EXPIRY_ACTOR } from '../agent/approvalPolicy.js';

/** What a late clicker is told privately: who decided, and when (mrkdwn; stored notes are escaped). */
export function alreadyDecidedText(action: Action): string {
  const by = action.decided_by && action.decided_by !== 'policy' ? mention(action.decided_by) : trusted('the app');
  const when = action.decided_at ? md` ${dateRef(action.decided_at)}` : '';
  switch (action.status) {
    case 'approved':
    case 'dispatching':
    case 'succeeded':
    case 'failed':
    case 'outcome_unknown':
      return md`This was already approved by ${by}${when}. Nothing was changed.`.value;
    case 'rejected':
      if (action.decided_by === EXPIRY_ACTOR) return md`This approval request expired${when} because nobody decided in time. Nothing was done, and its run was cancelled.`.value;
      return md`This was already rejected by ${by}${when}. Nothing was changed.`.value;
    case 'cancelled':
      return md`This action was cancelled (${withUserMentions(truncate(action.decision_note ?? 'the run ended', 500).text)}). Nothing was changed.`.value;
    case 'pending':
      return 'This action can no longer be decided: its run has ended.';
  }
}
