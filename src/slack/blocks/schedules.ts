import type { Schedule } from '../../db/repos/schedules.js';
import { channelRef, clipped, code, md, mention, trusted } from '../../text/mrkdwn.js';
import { context, section } from './text.js';

export const SCHEDULE_ACTION_IDS = { pause: 'schedule_pause', resume: 'schedule_resume', delete: 'schedule_delete' } as const;

type Listed = Schedule & { description: string; next: string | undefined };

/**
 * `/agent schedules`: the schedules of the channel it is typed in (admins: of every channel), each with its
 * owner, channel and next run, and buttons that only admins can use.
 */
export function renderSchedules(list: Listed[], scope: { allChannels: boolean; channelId: string }): { text: string; blocks: Record<string, unknown>[] } {
  const where = scope.allChannels ? 'in this workspace' : md`in ${channelRef(scope.channelId)}`.value;
  if (list.length === 0) {
    return {
      text: 'No schedules',
      blocks: [section(trusted(`No recurring runs ${where} yet. Ask the agent, e.g. \`/agent run every Monday at 9:00 summarise open deals\`.`))],
    };
  }
  const blocks: Record<string, unknown>[] = [section(trusted(`*Recurring runs ${where}* (${list.length})`))];
  for (const s of list.slice(0, 20)) {
    const state = trusted(s.status === 'paused' ? ':double_vertical_bar: paused' : ':large_green_circle: active');
    const next = s.next && s.status === 'active' ? md` · next: ${s.next}` : '';
    blocks.push(section(md`${code(s.id)} — ${state} — ${clipped(s.description, 300)}\n"${clipped(s.task, 600)}"\nOwner ${mention(s.owner_id)} · in ${channelRef(s.channel_id)}${next}`));
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
  const more = list.length > 20 ? ` ${list.length - 20} more are not listed.` : '';
  const scopeNote = scope.allChannels ? 'You are an admin, so schedules of every channel are listed.' : 'Only this channel\'s schedules are listed.';
  blocks.push(context(trusted(`${scopeNote}${more} Only admins can pause, resume or delete from this list.`)));
  return { text: `${list.length} schedules`, blocks };
}
