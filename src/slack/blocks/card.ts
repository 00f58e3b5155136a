import type { CardView } from '../../agent/surface.js';
import { clipped, code, dateRef, joinMd, md, mention, Mrkdwn, subteamRef, trusted, withUserMentions } from '../../text/mrkdwn.js';
import { fencedChunks } from '../../text/units.js';
import { fieldsWithin, hiddenCharactersIn, hiddenCharactersWarning } from './callContent.js';
import { context, fallbackText, LIMITS, mrkdwn, plainText, section, truncate, usd } from './text.js';

export const ACTION_IDS = {
  approve: 'approval_approve',
  approveRemember: 'approval_approve_remember',
  reject: 'approval_reject',
  viewFull: 'approval_view_full',
  edit: 'approval_edit',
} as const;

/**
 * How much of a card each part may use. Together they stay under the ~13k characters Slack accepts for a
 * message's blocks; what will be carried out (fields, content) gets most of it.
 */
export const CARD_BUDGET = {
  what: 700,
  fields: 5000,
  fieldSection: 2900,
  task: 400,
  reasoning: 900,
  content: 2400,
  notice: 300,
  note: 500,
  result: 300,
} as const;

/** Who approved: every approver of a call that needed several, else the one who decided. */
function approvedBy(card: CardView, by: string): Mrkdwn {
  const given = card.approvals?.given ?? [];
  if (given.length === 0) return mention(by);
  const names = given.map((g) => mention(g.user));
  return names.length === 1 ? names[0]! : md`${joinMd(names.slice(0, -1), trusted(', '))} and ${names.at(-1)!}`;
}

function decisionLine(card: CardView): Mrkdwn {
  const s = card.state;
  switch (s.kind) {
    case 'pending':
      return trusted('');
    case 'approved':
      return md`:white_check_mark: *Approved* by ${approvedBy(card, s.by)} ${dateRef(s.at)}${trusted(s.waitingFor > 0 ? ` — waiting for ${s.waitingFor} more approval${s.waitingFor === 1 ? '' : 's'} in this step before anything is sent` : ' — running now')}`;
    case 'rejected':
      return md`:no_entry: *Rejected* by ${mention(s.by)} ${dateRef(s.at)}${s.note ? md`\n> ${clipped(s.note, CARD_BUDGET.note)}` : ''}`;
    case 'cancelled':
      return md`:no_entry_sign: *Cancelled* — ${withUserMentions(truncate(s.reason, CARD_BUDGET.note).text)}`;
    case 'done':
      return s.ok
        ? md`:white_check_mark: *Approved* by ${approvedBy(card, s.by)} ${dateRef(s.at)} — done`
        : md`:warning: *Approved* by ${approvedBy(card, s.by)} ${dateRef(s.at)} — but it failed: ${clipped(s.resultSummary, CARD_BUDGET.result)}`;
    case 'outcome_unknown':
      // The cause (a restart, a connection lost mid-send) is in the thread's "Please check" line.
      return md`:warning: *Outcome unknown* — I can't tell whether this happened${s.by ? md` (approved by ${approvedBy(card, s.by)})` : ''}. Please check; it will not be retried automatically.`;
    case 'expired':
      return md`:hourglass: *Expired* ${dateRef(s.at)} — nobody decided in time, so nothing was done and the run was cancelled.`;
  }
}

/** The mentions of the people who may decide, built from stored ids only. */
function decidersLine(card: CardView): Mrkdwn | undefined {
  const d = card.deciders;
  if (!d || (d.users.length === 0 && d.groups.length === 0)) return undefined;
  return joinMd([...d.groups.map(subteamRef), ...d.users.map(mention)], trusted(' '));
}

/** The approval card: what, why, the exact content, and the buttons (only while undecided). */
export function renderCard(card: CardView, links: { taskPermalink?: string | undefined } = {}): { text: string; blocks: Record<string, unknown>[] } {
  const { run, action, description } = card;
  const blocks: Record<string, unknown>[] = [];
  const pending = card.state.kind === 'pending';
  // The header names the tool only: untrusted words go in mrkdwn sections, where they are escaped.
  blocks.push({ type: 'header', text: plainText(`${pending ? 'Approval needed' : 'Approval'}: ${action.tool}`, LIMITS.headerText) });
  blocks.push(section(md`*What:* ${clipped(description.summary, CARD_BUDGET.what)}`));

  const fields = fieldsWithin(description.fields ?? [], CARD_BUDGET.fields, CARD_BUDGET.fieldSection);
  for (const s of fields.sections) blocks.push(section(trusted(s)));

  const why = [md`*Why:* task "${clipped(run.task, CARD_BUDGET.task)}"`];
  if (card.reasoning) why.push(trusted(`>${clipped(card.reasoning, CARD_BUDGET.reasoning).value.replace(/\n/g, '\n>')}`));
  blocks.push(section(trusted(why.map((w) => w.value).join('\n'))));

  const notShown = [...fields.notShown];
  if (description.content !== undefined) {
    const label = description.contentLabel ?? 'Content';
    const chunks = fencedChunks(description.content, CARD_BUDGET.content);
    const first = chunks[0]!;
    const cut = chunks.length > 1;
    const heading = md`*${label}${trusted(cut ? ` (first ${first.shown.toLocaleString('en-US')} of ${description.content.length.toLocaleString('en-US')} characters)` : '')}:*`;
    blocks.push(section(trusted(`${heading.value}\n${first.out}`)));
    if (cut) notShown.push(`the last ${(description.content.length - first.shown).toLocaleString('en-US')} characters of ${label}`);
  }

  const hidden = hiddenCharactersIn(description);
  if (hidden.count > 0) blocks.push(context(hiddenCharactersWarning(hidden)));
  if (notShown.length > 0) {
    blocks.push(context(md`:mag: *Not shown on this card:* ${notShown.join('; ')}. *View full* shows everything that will be sent.`));
  }
  for (const notice of card.notices.slice(0, 3)) blocks.push(context(md`:warning: ${clipped(notice, CARD_BUDGET.notice)}`));
  if (card.turnCardCount > 1 && pending) {
    blocks.push(context(`This is one of ${card.turnCardCount} actions proposed together: they are carried out only when all are approved, and rejecting any one cancels the run.`));
  }
  blocks.push(
    context(
      [
        md`Run ${code(run.id)}`,
        md`requested by ${mention(run.requester_id)}`,
        trusted(`spend so far ${usd(run.spend_usd)}`),
        ...(links.taskPermalink ? [md`<${trusted(links.taskPermalink.replace(/[<>|]/g, ''))}|open the task>`] : []),
      ]
        .map((m) => m.value)
        .join(' · '),
    ),
  );
  if (card.edit) {
    const changes = card.edit.changes.map((c) => md`${c.field}: ${clipped(c.before || '(empty)', 150)} → ${clipped(c.after || '(empty)', 150)}`);
    blocks.push(context(md`:pencil2: *Edited* by ${mention(card.edit.by)} before approving. ${joinMd(changes, '; ')}. What is shown above is what was approved.`));
  }
  if (pending && card.approvals && card.approvals.required > 1) {
    const { required, given } = card.approvals;
    const who = given.length ? md` — approved by ${joinMd(given.map((g) => mention(g.user)), trusted(', '))}` : trusted('');
    blocks.push(context(md`:busts_in_silhouette: *${trusted(String(given.length))} of ${trusted(String(required))} approvals*${who}. It runs only once ${trusted(String(required))} different people other than the requester have approved it.`));
  }
  const deciders = pending ? decidersLine(card) : undefined;
  if (deciders) blocks.push(context(md`:bell: Waiting for a decision from ${deciders}`));
  const buttons: Record<string, unknown>[] = [];
  if (pending) {
    buttons.push(
      { type: 'button', action_id: ACTION_IDS.approve, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: action.id },
      { type: 'button', action_id: ACTION_IDS.reject, style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: action.id },
    );
    if (card.editable) {
      buttons.push({ type: 'button', action_id: ACTION_IDS.edit, text: { type: 'plain_text', text: 'Edit' }, value: action.id });
    }
    if (card.rememberable) {
      buttons.push({ type: 'button', action_id: ACTION_IDS.approveRemember, text: { type: 'plain_text', text: 'Approve & remember' }, value: action.id });
    }
  }
  if (notShown.length > 0) {
    buttons.push({ type: 'button', action_id: ACTION_IDS.viewFull, text: { type: 'plain_text', text: 'View full' }, value: action.id });
  }
  if (!pending) blocks.push({ type: 'section', text: mrkdwn(decisionLine(card)) });
  if (buttons.length) blocks.push({ type: 'actions', block_id: `card:${action.id}`, elements: buttons });
  // Slack notifies from the message text: the mentions go there too, not only in the blocks.
  const text = pending
    ? md`Approval needed for run ${run.id}: ${clipped(description.summary, 500)}${deciders ? md` (${deciders})` : ''}`
    : md`${clipped(description.summary, 500)}: ${card.state.kind.replace('_', ' ')}`;
  return { text: fallbackText(text), blocks };
}
