import type { CallDescription, CallField } from '../../tools/types.js';
import { findInvisible } from '../../text/invisible.js';
import { clipText, escapeText, splitText } from '../../text/units.js';

/**
 * The parts of a call that decide what happens (recipients, targets, the body), laid out for Slack. The
 * card shows as much as its budget allows and names exactly what it leaves out; "View full" shows all.
 */

function labelOf(field: CallField): string {
  const count = Array.isArray(field.value) ? ` (${field.value.length})` : '';
  return `*${escapeText(field.label)}${count}:* `;
}

/** Packs escaped pieces into sections of at most `max` characters, the label starting the first one. */
function pack(label: string, pieces: string[], separator: string, max: number): string[] {
  const sections: string[] = [];
  let current = label;
  let fresh = true;
  for (const p of pieces) {
    const sep = fresh ? '' : separator;
    if (current.length + sep.length + p.length <= max) {
      current += sep + p;
      fresh = false;
      continue;
    }
    if (!fresh) sections.push(current);
    current = '';
    fresh = true;
    if (p.length <= max) {
      current = p;
      fresh = false;
      continue;
    }
    // Only a single item longer than a whole section gets here: it is split like any long text.
    for (const part of splitRaw(p, max)) {
      if (current) sections.push(current);
      current = part;
    }
    fresh = false;
  }
  if (current.length > 0) sections.push(current);
  return sections;
}

/** Splits already-escaped text at safe points (between entities and markers). */
function splitRaw(escaped: string, max: number): string[] {
  const out: string[] = [];
  let rest = escaped;
  while (rest.length > max) {
    let cut = max;
    const amp = rest.lastIndexOf('&', cut);
    if (amp > cut - 6 && rest.indexOf(';', amp) >= cut) cut = amp;
    const open = rest.lastIndexOf('[U+', cut);
    if (open > cut - 12 && rest.indexOf(']', open) >= cut) cut = open;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest) out.push(rest);
  return out;
}

/** A field in full, over as many sections as it needs (View full). */
export function fieldSections(field: CallField, max: number): string[] {
  const label = labelOf(field);
  if (Array.isArray(field.value)) return pack(label, field.value.map(escapeText), ', ', max);
  const chunks = splitText(field.value, max - label.length).map((c) => c.out);
  return pack(label, chunks.length ? chunks : [''], '', max);
}

export interface BudgetedFields {
  sections: string[];
  /** Plain words for what is left out, e.g. "3 of 50 To addresses". */
  notShown: string[];
}

/**
 * Fields for the card. Single values (subject, sender, stage) come first for the budget, each up to a
 * share of it; lists (recipients) share the rest, shown item by item and then counted ("and 12 more not
 * shown here"). Sections keep the fields' order.
 */
export function fieldsWithin(fields: CallField[], budget: number, max: number): BudgetedFields {
  const rendered: Array<{ sections: string[]; notShown?: string }> = fields.map(() => ({ sections: [] }));
  let left = budget;
  const scalarShare = Math.max(200, Math.floor(budget / Math.max(1, fields.length)));
  fields.forEach((field, i) => {
    if (Array.isArray(field.value)) return;
    const full = fieldSections(field, max);
    const size = full.reduce((n, x) => n + x.length, 0);
    if (size <= Math.min(left, scalarShare) || size <= 300) {
      rendered[i] = { sections: full };
      left -= size;
      return;
    }
    const label = labelOf(field);
    const c = clipText(field.value, Math.max(1, Math.min(left, scalarShare, max) - label.length - 60));
    const hidden = c.total - c.shown;
    const text = `${label}${c.out} _(${hidden.toLocaleString('en-US')} more characters not shown here)_`;
    rendered[i] = { sections: [text], notShown: `the last ${hidden.toLocaleString('en-US')} of ${c.total.toLocaleString('en-US')} characters of ${field.label}` };
    left -= text.length;
  });
  fields.forEach((field, i) => {
    if (!Array.isArray(field.value)) return;
    const full = fieldSections(field, max);
    const size = full.reduce((n, x) => n + x.length, 0);
    if (size <= left) {
      rendered[i] = { sections: full };
      left -= size;
      return;
    }
    const items = field.value;
    const label = labelOf(field);
    const sections: string[] = [];
    let text = label;
    let shown = 0;
    let room = left;
    for (const item of items) {
      const escaped = escapeText(item);
      const tail = ` … *and ${items.length - shown - 1} more not shown here*`;
      const sep = text === label ? '' : ', ';
      if (text.length + sep.length + escaped.length + tail.length > max) {
        // The section is full: carry on in a new one while the budget lasts.
        if (room - text.length < escaped.length + tail.length + 10) break;
        sections.push(text);
        room -= text.length;
        text = escaped;
        shown += 1;
        continue;
      }
      if (text.length + sep.length + escaped.length + tail.length > room) break;
      text += sep + escaped;
      shown += 1;
    }
    sections.push(`${text}${shown ? ' …' : ''} *and ${items.length - shown} more not shown here*`);
    rendered[i] = { sections, notShown: `${items.length - shown} of ${items.length} ${field.label}` };
    left = Math.max(0, room - (sections.at(-1)?.length ?? 0));
  });
  return {
    sections: rendered.flatMap((r) => r.sections),
    notShown: rendered.flatMap((r) => (r.notShown ? [r.notShown] : [])),
  };
}

/** Invisible or direction-changing characters anywhere in what will be carried out. */
export function hiddenCharactersIn(d: CallDescription): { count: number; markers: string[] } {
  const values = (d.fields ?? []).flatMap((f) => (Array.isArray(f.value) ? f.value : [f.value]));
  return findInvisible(d.summary, ...values, d.content);
}

export function hiddenCharactersWarning(found: { count: number; markers: string[] }): string {
  const which = found.markers.slice(0, 6).join(', ') + (found.markers.length > 6 ? ', …' : '');
  return `:warning: *Hidden characters:* this action contains ${found.count} invisible or direction-changing character${found.count === 1 ? '' : 's'}, shown here as ${which}. They can make text read differently from what it is: check it before approving.`;
}
