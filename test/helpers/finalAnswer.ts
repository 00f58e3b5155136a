import { REQUESTER } from './testApp.js';

/**
 * The thread message of a run that completed in a channel: the model's answer, then the requester's
 * mention so they hear it is done (not in a DM, where the answer alone is posted).
 */
export function finalText(answer: string, requesterId: string = REQUESTER): string {
  return `${answer}\n\n:white_check_mark: <@${requesterId}> this run is complete.`;
}
