import type { TaskView } from '../../agent/surface.js';
import { escapeSlack } from '../../text/mrkdwn.js';
import { context, section, truncate } from './text.js';

/**
 * The steps a run took on its own and where its cards wait, shown on the task message itself: one
 * message updated in place instead of a thread line per step (Slack's limits, and a quieter thread).
 */
export function renderTaskProgress(view: Pick<TaskView, 'progress' | 'progressTotal' | 'cardsElsewhere'>, links: Map<string, string>): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = [];
  if (view.progress.length > 0) {
    const earlier = view.progressTotal - view.progress.length;
    const lines = view.progress.map((p) => `${p.ok ? ':white_check_mark:' : ':warning:'} ${escapeSlack(truncate(p.summary, 200).text)}${p.ok ? '' : ' (failed)'}`);
    blocks.push(context(`${earlier > 0 ? `…${earlier} earlier step${earlier === 1 ? '' : 's'}\n` : ''}${lines.join('\n')}`));
  }
  for (const card of view.cardsElsewhere.slice(0, 5)) {
    const link = links.get(`${card.channel}/${card.ts}`);
    const where = link ? `<${link}|see the card in <#${card.channel}>>` : `the card is in <#${card.channel}>`;
    blocks.push(section(`:raised_hand: Waiting for approval: ${escapeSlack(truncate(card.summary, 300).text)} — ${where}`));
  }
  return blocks;
}
