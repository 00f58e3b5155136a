import { section, type BlockText } from './text.js';

export const UNDO_ACTION_ID = 'notice_undo';

/**
 * An auto_notify notification; the Undo button carries the action id. The text is built by the agent with
 * the safe layer (`md`), so whatever the tool or model contributed to it is already escaped.
 */
export function renderNotice(text: BlockText, undoActionId?: string): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = [section(text)];
  if (undoActionId) {
    blocks.push({
      type: 'actions',
      block_id: `notice:${undoActionId}`,
      elements: [{ type: 'button', action_id: UNDO_ACTION_ID, text: { type: 'plain_text', text: 'Undo' }, value: undoActionId }],
    });
  }
  return blocks;
}
