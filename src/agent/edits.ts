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
  /**
   * Picked from a list the tool reads when the dialog opens (`ToolDefinition.editChoices`), e.g. a deal's
   * stages. When the list cannot be read the dialog says so and offers a text input; either way the value
   * is checked by the tool's own schema and prepare step on submit.
   */
  choices?: boolean;
  /** How a value reads in the card and the model's note, from the input and what prepare resolved. */
  shown?: (input: Record<string, unknown>, prepared: Record<string, unknown>) => string | undefined;
}

export const EDITABLE: Record<string, EditField[]> = {
  send_email: [
    { key: 'to', label: 'To', list: true, hint: 'One or more addresses, separated by commas.' },
    { key: 'cc', label: 'Cc', list: true, optional: true, hint: 'Optional; separated by commas.' },
    { key: 'subject', label: 'Subject' },
    { key: 'body', label: 'Body', multiline: true },
  ],
  send_whatsapp: [{ key: 'body', label: 'Message', multiline: true }],
  update_deal_stage: [
    {
      key: 'stage',
      label: 'New stage',
      choices: true,
      hint: "A stage of the deal's pipeline, as HubSpot lists it now.",
      // The model may write a label or an id: what counts is the stage prepare resolved.
      shown: (_input, prepared) => (typeof prepared['newStageLabel'] === 'string' && typeof prepared['newStageId'] === 'string' ? `${prepared['newStageLabel']} (${prepared['newStageId']})` : undefined),
    },
  ],
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

/**
 * The edited input: the stored call with the dialog's fields put in (other arguments unchanged). `keep`
 * names fields left as proposed (a list still on the option the call resolved to): their stored text stays.
 */
export function applyEdit(tool: string, original: Record<string, unknown>, values: Record<string, string | null | undefined>, keep: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { ...original };
  for (const f of EDITABLE[tool] ?? []) {
    if (keep.includes(f.key)) continue;
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

/**
 * What an edit changed, field by field, in the words of the dialog. With what prepare resolved before and
 * after, a field that has a `shown` form is described by it (a stage's label and id, not what was typed).
 */
export function changesOf(
  tool: string,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  prepared?: { before: Record<string, unknown>; after: Record<string, unknown> },
): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of EDITABLE[tool] ?? []) {
    const b = fieldText(f, before);
    const a = fieldText(f, after);
    if (a === b) continue;
    const shownBefore = prepared && f.shown?.(before, prepared.before);
    const shownAfter = prepared && f.shown?.(after, prepared.after);
    out.push({ field: f.label, before: shownBefore ?? b, after: shownAfter ?? a });
  }
  return out;
}

/** The edit as the model reads it in its tool result (truncated values: the model has the original). */
export function editNoteForModel(by: string, changes: FieldChange[]): string {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);
  const list = changes.map((c) => `${c.field}: ${JSON.stringify(cut(c.before))} → ${JSON.stringify(cut(c.after))}`).join('; ');
  return `A human approver (Slack user ${by}) edited this call before approving it, and it was carried out with the edited input. Changes: ${list || 'none'}.`;
}
