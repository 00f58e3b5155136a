import { createHash } from 'node:crypto';

/**
 * Binds an approval to the exact call the card showed: tool, input and prepared facts (such as the
 * sender). Stored strings are hashed as stored, so any later edit of the row breaks the match.
 */
export function callHash(tool: string, inputJson: string, preparedJson: string | null): string {
  return createHash('sha256').update(`${tool}\n${inputJson}\n${preparedJson ?? ''}`).digest('hex');
}
