import type { CallDescription } from '../../tools/types.js';
import { clipped, code, md, trusted } from '../../text/mrkdwn.js';
import { fencedChunks, splitText } from '../../text/units.js';
import { fieldSections } from './callContent.js';
import { context, LIMITS, mrkdwn } from './text.js';

export const REJECT_CALLBACK_ID = 'approval_reject_note';
export const REJECT_NOTE_BLOCK = 'reject_note';
export const REJECT_NOTE_ACTION = 'note';
export const VIEW_FULL_CALLBACK_ID = 'approval_view_full';
export const VIEW_FULL_PAGE_ACTION = 'view_full_page';

/** Reject asks for an optional note; the action id rides in private_metadata (not user-editable). */
export function rejectModal(opts: { actionId: string; summary: string; runId: string }): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: REJECT_CALLBACK_ID,
    private_metadata: JSON.stringify({ actionId: opts.actionId }),
    title: { type: 'plain_text', text: 'Reject action' },
    submit: { type: 'plain_text', text: 'Reject' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: mrkdwn(md`Reject *${clipped(opts.summary, 2000)}*? This cancels run ${code(opts.runId)}: nothing else it proposed will be done.`),
      },
      {
        type: 'input',
        block_id: REJECT_NOTE_BLOCK,
        optional: true,
        label: { type: 'plain_text', text: 'Note (optional)' },
        element: { type: 'plain_text_input', action_id: REJECT_NOTE_ACTION, multiline: true, max_length: 2000, placeholder: { type: 'plain_text', text: 'Why? The requester sees this, and a rerun can use it.' } },
      },
    ],
  };
}

/** Sections of one View full page: few enough blocks and characters for one modal. */
export const VIEW_FULL_PAGE = { sections: 20, characters: 40_000 } as const;

/**
 * Everything that will be carried out, as mrkdwn sections of at most 3,000 characters each (fences, escapes
 * and the zero-width spaces that break backtick runs included): the summary, every field in full, and the
 * whole content.
 */
export function fullContentSections(description: CallDescription): string[] {
  const max = LIMITS.sectionText;
  const sections: string[] = [];
  for (const c of splitText(description.summary, max - 2)) sections.push(`*${c.out}*`);
  for (const field of description.fields ?? []) sections.push(...fieldSections(field, max));
  if (description.content !== undefined) {
    const label = description.contentLabel ?? 'Content';
    sections.push(md`*${label}* (${trusted(description.content.length.toLocaleString('en-US'))} characters):`.value);
    sections.push(...fencedChunks(description.content, max).map((c) => c.out));
  }
  return sections;
}

/** Splits the sections into pages within the per-page limits. */
export function paginate(sections: string[]): string[][] {
  const pages: string[][] = [];
  let page: string[] = [];
  let size = 0;
  for (const s of sections) {
    if (page.length > 0 && (page.length >= VIEW_FULL_PAGE.sections || size + s.length > VIEW_FULL_PAGE.characters)) {
      pages.push(page);
      page = [];
      size = 0;
    }
    page.push(s);
    size += s.length;
  }
  if (page.length > 0) pages.push(page);
  return pages;
}

export interface ViewFullMetadata {
  actionId: string;
  /** Where it was opened: page turns are checked against the same visibility rule. */
  channelId: string | null;
}

/** One page of the whole call, with Previous/Next when it needs more than one. */
export function viewFullModal(opts: { description: CallDescription; runId: string; actionId: string; channelId: string | null; page?: number }): Record<string, unknown> {
  const pages = paginate(fullContentSections(opts.description));
  const count = Math.max(1, pages.length);
  const index = Math.min(Math.max(0, opts.page ?? 0), count - 1);
  const blocks: Record<string, unknown>[] = [
    context(md`Run ${code(opts.runId)} · everything this action will carry out${trusted(count > 1 ? ` · page ${index + 1} of ${count}` : '')}`),
    ...(pages[index] ?? []).map((s) => ({ type: 'section', text: mrkdwn(trusted(s)) })),
  ];
  if (count > 1) {
    const nav: Record<string, unknown>[] = [];
    if (index > 0) nav.push(pageButton('‹ Previous page', opts.actionId, index - 1, 'prev'));
    if (index < count - 1) nav.push(pageButton('Next page ›', opts.actionId, index + 1, 'next'));
    blocks.push({ type: 'actions', block_id: 'view_full_pages', elements: nav });
  }
  const metadata: ViewFullMetadata = { actionId: opts.actionId, channelId: opts.channelId };
  return {
    type: 'modal',
    callback_id: VIEW_FULL_CALLBACK_ID,
    private_metadata: JSON.stringify(metadata),
    title: { type: 'plain_text', text: 'Full content' },
    close: { type: 'plain_text', text: 'Close' },
    blocks,
  };
}

function pageButton(label: string, actionId: string, page: number, which: string): Record<string, unknown> {
  return { type: 'button', action_id: `${VIEW_FULL_PAGE_ACTION}_${which}`, text: { type: 'plain_text', text: label }, value: JSON.stringify({ actionId, page }) };
}
