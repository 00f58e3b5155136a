import type { Schedule } from '../../db/repos/schedules.js';
import { escapeMrkdwn, section, truncate } from './text.js';

export const SCHEDULE_ACTION_IDS = { pause: 'schedule_pause', resume: 'schedule_resume', delete: 'schedule_delete' } as const;

type Listed = Schedule & { description: string; next: string | undefined };

/** `/agent schedules`: every schedule with its owner, channel and next run; admins get buttons. */
export function renderSchedules(list: Listed[]): { text: string; blocks: Record<string, unknown>[] } {
  if (list.length === 0) return { text: 'No schedules', blocks: [section('No recurring runs yet. Ask the agent, e.g. `/agent run every Monday at 9:00 summarise open deals`.')] };
  const blocks: Record<string, unknown>[] = [section(`*Recurring runs* (${list.length})`)];
  for (const s of list.slice(0, 20)) {
    blocks.push(
      section(
        `\`${s.id}\` — ${s.status === 'paused' ? ':double_vertical_bar: paused' : ':large_green_circle: active'} — ${escapeMrkdwn(s.description)}\n"${escapeMrkdwn(truncate(s.task, 300).text)}"\nOwner <@${s.owner_id}> · in <#${s.channel_id}>${s.next && s.status === 'active' ? ` · next: ${s.next}` : ''}`,
      ),
    );
    blocks.push({
      type: 'actions',
      block_id: `schedule:${s.id}`,
      elements: [
        s.status === 'active'
          ? { type: 'button', action_id: SCHEDULE_ACTION_IDS.pause, text: { type: 'plain_text', text: 'Pause' }, value: s.id }
          : { type: 'button', action_id: SCHEDULE_ACTION_IDS.resume, text: { type: 'plain_text', text: 'Resume' }, value: s.id },
        { type: 'button', action_id: SCHEDULE_ACTION_IDS.delete, style: 'danger', text: { type: 'plain_text', text: 'Delete' }, value: s.id },
      ],
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Only admins can pause, resume or delete from this list.' }] });
  return { text: `${list.length} schedules`, blocks };
}
