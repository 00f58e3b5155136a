/**
 * What an Approve button (or a Home tick box) carries: the action's id and the hash of the exact call the
 * clicker was shown. A card or Home view can be out of date (an edit under a two-person rule changes the
 * call while others still see the old one), so the approval only counts for the call that was on screen.
 * A value without a hash (cards posted before this format) approves whatever call is pending.
 */
const SEPARATOR = '|';

export function approveValue(action: { id: string; input_hash: string }): string {
  return `${action.id}${SEPARATOR}${action.input_hash}`;
}

export function parseApproveValue(value: string): { actionId: string; expectHash?: string } {
  const at = value.indexOf(SEPARATOR);
  if (at < 0) return { actionId: value };
  const actionId = value.slice(0, at);
  const expectHash = value.slice(at + 1);
  return expectHash ? { actionId, expectHash } : { actionId };
}
