/**
 * Which calls an approver may edit before approving, and how a dialog's plain text maps onto the tool's
 * input. The edited input is validated by the tool's own schema (Approvals), never trusted from here.
 */
export interface EditField {
  /** The input key (also the dialog's block id). */
  key: string;
  label: string;
  multiline?: boolean;
  optional?: boolean;
  /** A list of addresses typed comma-separated. */
  list?: boolean;
  hint?: string;
}

export const EDITABLE: Record<string, EditField[]> = {
  send_email: [
    { key: 'to', label: 'To', list: true, hint: 'One or more addresses, separated by commas.' },
    { key: 'cc', label: 'Cc', list: true, optional: true, hint: 'Optional; separated by commas.' },
    { key: 'subject', label: 'Subject' },
    { key: 'body', label: 'Body', multiline: true },
  ],
  send_whatsapp: [{ key: 'body', label: 'Message', multiline: true }],
  update_deal_stage: [{ key: 'stage', label: 'New stage', hint: "The stage's label or id in the deal's pipeline." }],
  schedule_run: [
    { key: 'cron', label: 'Cron (minute hour day month weekday)' },
    { key: 'task', label: 'Task', multiline: true },
  ],
};

export function editableFields(tool: string): EditField[] | undefined {
  return EDITABLE[tool];
}

/** The dialog's text for one field of the stored input. */
export function fieldText(field: EditField, input: Record<string, unknown>): string {
  const v = input[field.key];
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(String).join(', ');
  return String(v);
}

/** The edited input: the stored call with the dialog's fields put in (other arguments unchanged). */
export function applyEdit(tool: string, original: Record<string, unknown>, values: Record<string, string | null | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...original };
  for (const f of EDITABLE[tool] ?? []) {
    const raw = values[f.key] ?? '';
    if (f.list) {
      const items = raw.split(/[,;\n]/).map((s) => s.trim()).filter(Boolean);
      if (items.length === 0 && f.optional) delete out[f.key];
      // A single To stays a string, as the model usually writes it; several become a list.
      else out[f.key] = f.key === 'to' && items.length === 1 ? items[0] : items;
    } else if (raw === '' && f.optional) delete out[f.key];
    else out[f.key] = raw;
  }
  return out;
}

export interface FieldChange {
  field: string;
  before: string;
  after: string;
}

/** What an edit changed, field by field, in the words of the dialog. */
export function changesOf(tool: string, before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of EDITABLE[tool] ?? []) {
    const b = fieldText(f, before);
    const a = fieldText(f, after);
    if (a !== b) out.push({ field: f.label, before: b, after: a });
  }
  return out;
}

/** The edit as the model reads it in its tool result (truncated values: the model has the original). */
export function editNoteForModel(by: string, changes: FieldChange[]): string {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);
  const list = changes.map((c) => `${c.field}: ${JSON.stringify(cut(c.before))} → ${JSON.stringify(cut(c.after))}`).join('; ');
  return `A human approver (Slack user ${by}) edited this call before approving it, and it was carried out with the edited input. Changes: ${list || 'none'}.`;
}
