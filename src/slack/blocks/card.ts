import type { CardView } from '../../agent/surface.js';
import { context, escapeMrkdwn, LIMITS, section, slackDate, truncate, usd, verbatim } from './text.js';

export const ACTION_IDS = {
  approve: 'approval_approve',
  approveRemember: 'approval_approve_remember',
  reject: 'approval_reject',
  viewFull: 'approval_view_full',
} as const;

function decisionLine(card: CardView): string {
  const s = card.state;
  switch (s.kind) {
    case 'pending':
      return '';
    case 'approved':
      return `:white_check_mark: *Approved* by <@${s.by}> ${slackDate(s.at)}${s.waitingFor > 0 ? ` — waiting for ${s.waitingFor} more approval${s.waitingFor === 1 ? '' : 's'} in this step before anything is sent` : ' — running now'}`;
    case 'rejected':
      return `:no_entry: *Rejected* by <@${s.by}> ${slackDate(s.at)}${s.note ? `\n> ${escapeMrkdwn(truncate(s.note, 500).text)}` : ''}`;
    case 'cancelled':
      return `:no_entry_sign: *Cancelled* — ${escapeMrkdwn(s.reason)}`;
    case 'done':
      return s.ok
        ? `:white_check_mark: *Approved* by <@${s.by}> ${slackDate(s.at)} — done`
        : `:warning: *Approved* by <@${s.by}> ${slackDate(s.at)} — but it failed: ${escapeMrkdwn(truncate(s.resultSummary, 300).text)}`;
    case 'outcome_unknown':
      // The cause (a restart, a connection lost mid-send) is in the thread's "Please check" line.
      return `:warning: *Outcome unknown* — I can't tell whether this happened${s.by ? ` (approved by <@${s.by}>)` : ''}. Please check; it will not be retried automatically.`;
  }
}

/** The approval card: what, why, the exact content, and the buttons (only while undecided). */
export function renderCard(card: CardView, links: { taskPermalink?: string | undefined } = {}): { text: string; blocks: Record<string, unknown>[] } {
  const { run, action, description } = card;
  const blocks: Record<string, unknown>[] = [];
  const pending = card.state.kind === 'pending';
  blocks.push({
    type: 'header',
    text: { type: 'plain_text', text: truncate(`${pending ? 'Approval needed' : 'Approval'}: ${description.summary}`, LIMITS.headerText).text },
  });
  blocks.push(section(`*What:* ${escapeMrkdwn(description.summary)}`));
  if (description.fields?.length) {
    blocks.push({
      type: 'section',
      fields: description.fields.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: truncate(`*${escapeMrkdwn(f.label)}:* ${escapeMrkdwn(f.value)}`, 1900).text })),
    });
  }
  const why = [`*Why:* task "${escapeMrkdwn(truncate(run.task, 500).text)}"`];
  if (card.reasoning) why.push(`>${escapeMrkdwn(truncate(card.reasoning, LIMITS.cardReasoning).text).replace(/\n/g, '\n>')}`);
  blocks.push(section(why.join('\n')));
  let truncatedContent = false;
  if (description.content !== undefined) {
    const shown = truncate(description.content, LIMITS.cardContent);
    truncatedContent = shown.truncated;
    blocks.push(section(`*${escapeMrkdwn(description.contentLabel ?? 'Content')}${shown.truncated ? ` (first ${LIMITS.cardContent} of ${description.content.length} characters)` : ''}:*\n${verbatim(shown.text)}`));
  }
  for (const notice of card.notices) blocks.push(context(`:warning: ${escapeMrkdwn(notice)}`));
  if (card.turnCardCount > 1 && pending) {
    blocks.push(context(`This is one of ${card.turnCardCount} actions proposed together: they are carried out only when all are approved, and rejecting any one cancels the run.`));
  }
  blocks.push(
    context(
      [
        `Run \`${run.id}\``,
        `requested by <@${run.requester_id}>`,
        `spend so far ${usd(run.spend_usd)}`,
        ...(links.taskPermalink ? [`<${links.taskPermalink}|open the task>`] : []),
      ].join(' · '),
    ),
  );
  const buttons: Record<string, unknown>[] = [];
  if (pending) {
    buttons.push(
      { type: 'button', action_id: ACTION_IDS.approve, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: action.id },
      { type: 'button', action_id: ACTION_IDS.reject, style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: action.id },
    );
    if (card.rememberable) {
      buttons.push({ type: 'button', action_id: ACTION_IDS.approveRemember, text: { type: 'plain_text', text: 'Approve & remember' }, value: action.id });
    }
  }
  if (truncatedContent) {
    buttons.push({ type: 'button', action_id: ACTION_IDS.viewFull, text: { type: 'plain_text', text: 'View full' }, value: action.id });
  }
  if (!pending) blocks.push(section(decisionLine(card)));
  if (buttons.length) blocks.push({ type: 'actions', block_id: `card:${action.id}`, elements: buttons });
  const text = pending
    ? `Approval needed for run ${run.id}: ${description.summary}`
    : `${description.summary}: ${card.state.kind.replace('_', ' ')}`;
  return { text: truncate(text, 3000).text, blocks };
}
