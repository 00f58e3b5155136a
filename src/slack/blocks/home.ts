import type { HomeData, HomeItem } from '../../agent/home.js';
import { channelRef, clipped, code, dateRef, md, mention, trusted, type Mrkdwn } from '../../text/mrkdwn.js';
import { statusLabel } from './taskMessage.js';
import { context, LIMITS, plainText, section, usd } from './text.js';
import { renderTrustSuggestions } from './trustSuggestions.js';

export const HOME_ACTION_IDS = {
  approve: 'home_approve',
  reject: 'home_reject',
  edit: 'home_edit',
  openCard: 'home_open_card',
  select: 'home_select',
  approveSelected: 'home_approve_selected',
} as const;

/** Block ids of the batch groups start with this, followed by the tool's name. */
export const HOME_BATCH_BLOCK = 'home_batch:';

/**
 * Slack allows 100 blocks in a Home view: the oldest WAITING_SHOWN approvals are listed (two blocks each)
 * and the rest counted; batch groups hold at most Slack's 10 checkboxes each.
 */
export const HOME_LIMITS = {
  /** Slack's limit on blocks in one view. */
  viewBlocks: 100,
  waitingShown: 20,
  batchGroups: 4,
  batchOptions: 10,
  summary: 300,
  task: 80,
  /** A note about the viewer's last click is shown this long. */
  noteMs: 15 * 60_000,
} as const;

/** Slack's limit for a checkbox option's text. */
const OPTION_TEXT = 75;

function itemText(item: HomeItem): Mrkdwn {
  const { action, run, summary } = item;
  const where = run.channel_id.startsWith('D') ? trusted('a direct message') : channelRef(run.channel_id);
  return md`*${clipped(summary, HOME_LIMITS.summary)}*\n${code(action.tool)} · run ${code(run.id)} requested by ${mention(run.requester_id)} in ${where} · waiting since ${dateRef(action.created_at)} · run spend ${trusted(usd(run.spend_usd))}\nTask: "${clipped(run.task, HOME_LIMITS.task)}"`;
}

function itemButtons(item: HomeItem, permalink: string | undefined): Record<string, unknown> {
  const id = item.action.id;
  return {
    type: 'actions',
    block_id: `home_item:${id}`,
    elements: [
      { type: 'button', action_id: HOME_ACTION_IDS.approve, text: plainText('Approve', 75), style: 'primary', value: id },
      { type: 'button', action_id: HOME_ACTION_IDS.reject, text: plainText('Reject', 75), style: 'danger', value: id },
      ...(item.editable ? [{ type: 'button', action_id: HOME_ACTION_IDS.edit, text: plainText('Edit', 75), value: id }] : []),
      ...(permalink ? [{ type: 'button', action_id: HOME_ACTION_IDS.openCard, text: plainText('Open card', 75), url: permalink, value: id }] : []),
    ],
  };
}

/** Cards of one kind (tool) that can be approved together, two or more, oldest first. */
function batchGroups(items: HomeItem[]): Array<{ tool: string; items: HomeItem[] }> {
  const byTool = new Map<string, HomeItem[]>();
  for (const item of items) byTool.set(item.action.tool, [...(byTool.get(item.action.tool) ?? []), item]);
  return [...byTool.entries()]
    .filter(([, list]) => list.length >= 2)
    .slice(0, HOME_LIMITS.batchGroups)
    .map(([tool, list]) => ({ tool, items: list.slice(0, HOME_LIMITS.batchOptions) }));
}

/**
 * The Home tab: what waits for the viewer (with the card's own buttons), several cards of one kind at
 * once, the viewer's runs and, for admins, the approval queue. Untrusted words (summaries, tasks) go
 * through `md`/`clipped` in mrkdwn, or plain_text where Slack parses nothing.
 */
export function renderHome(data: HomeData, links: Map<string, string>, now: Date): { type: 'home'; blocks: Record<string, unknown>[] } {
  const blocks: Record<string, unknown>[] = [];
  blocks.push({ type: 'header', text: plainText('Waiting for you', LIMITS.headerText) });
  if (data.note && now.getTime() - Date.parse(data.note.at) < HOME_LIMITS.noteMs) blocks.push(context(trusted(data.note.text)));
  const shown = data.waiting.slice(0, HOME_LIMITS.waitingShown);
  if (shown.length === 0) blocks.push(section(trusted('Nothing is waiting for your decision.')));
  else blocks.push(context(trusted(`${data.waiting.length} action${data.waiting.length === 1 ? '' : 's'} you may decide, oldest first.`)));
  for (const item of shown) {
    blocks.push(section(itemText(item)));
    blocks.push(itemButtons(item, links.get(item.action.id)));
  }
  const more = data.waiting.length - shown.length;
  if (more > 0) blocks.push(context(trusted(`…and ${more} more, newer than these. Decide the ones above and the next ones appear here.`)));

  for (const group of batchGroups(shown)) {
    blocks.push(section(md`*Approve several ${code(group.tool)} at once*: tick the ones to approve. Each is approved, checked and run on its own, exactly as if you clicked its Approve.`));
    blocks.push({
      type: 'actions',
      block_id: `${HOME_BATCH_BLOCK}${group.tool}`.slice(0, 255),
      elements: [
        {
          type: 'checkboxes',
          action_id: HOME_ACTION_IDS.select,
          options: group.items.map((item) => ({ text: plainText(`${item.run.id}: ${item.summary}`, OPTION_TEXT), value: item.action.id })),
        },
        { type: 'button', action_id: HOME_ACTION_IDS.approveSelected, text: plainText('Approve selected', 75), style: 'primary', value: group.tool.slice(0, LIMITS.buttonValue) },
      ],
    });
  }

  blocks.push({ type: 'divider' });
  blocks.push({ type: 'header', text: plainText('Your runs', LIMITS.headerText) });
  if (data.runs.length === 0) blocks.push(section(trusted('You have not started any run yet. Try `/agent run <task>`.')));
  else {
    const lines = data.runs.map((r) => md`• ${code(r.id)} — ${trusted(statusLabel(r.status))} — "${clipped(r.task, HOME_LIMITS.task)}" · spend ${trusted(usd(r.spend_usd))} · ${dateRef(r.created_at)}`);
    blocks.push(section(trusted(lines.map((l) => l.value).join('\n'))));
    if (data.runsTotal > data.runs.length) blocks.push(context(trusted(`…and ${data.runsTotal - data.runs.length} older. \`/agent status <run-id>\` shows any of them.`)));
  }

  if (data.queue) {
    const q = data.queue;
    const state = q.pending >= q.stopAt ? ':no_entry: new actions are refused' : q.pending >= q.warnAt ? ':warning: cards warn that the queue is long' : ':white_check_mark: below the warning level';
    blocks.push({ type: 'divider' });
    blocks.push({ type: 'header', text: plainText('Approval queue (admins)', LIMITS.headerText) });
    blocks.push(section(trusted(`*${q.pending}* action${q.pending === 1 ? '' : 's'} waiting in this workspace — warning at ${q.warnAt}, refused at ${q.stopAt}: ${state}.`)));
  }

  if (data.suggestions.length > 0) {
    // Two blocks a suggestion plus a heading, a footer and the divider, within Slack's 100 blocks a view.
    const room = Math.max(0, Math.floor((HOME_LIMITS.viewBlocks - blocks.length - 3) / 2));
    const { blocks: offered } = renderTrustSuggestions(data.suggestions.slice(0, room));
    if (room > 0) blocks.push({ type: 'divider' }, ...offered);
  }
  return { type: 'home', blocks };
}
