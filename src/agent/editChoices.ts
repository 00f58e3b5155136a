import { z } from 'zod';
import { parseStoredJson } from '../db/json.js';
import type { Action } from '../db/schema.js';
import { errorMessage } from '../errors.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { EditChoices } from '../tools/types.js';
import { editableFields } from './edits.js';

/** Slack's limits for a static select: at most 100 options, values of at most 150 characters. */
const MAX_OPTIONS = 100;
const MAX_VALUE = 150;
/** The dialog must open within Slack's 3 s trigger lifetime: a slower list is given up for a typed field. */
const LIST_WAIT_MS = 1500;

export interface LoadedChoices {
  /** The lists that could be read, by field. */
  choices: Record<string, EditChoices>;
  /** Why the list fields could not be offered as lists (they become text inputs), or undefined. */
  unavailable: string | undefined;
}

/**
 * The lists of an Edit dialog's pick-from-a-list fields, read from the tool when the dialog opens. A list
 * that cannot be read, or that Slack cannot show, is reported instead: the field is then typed, and the
 * tool's own checks on submit still refuse anything its list would not have offered.
 */
export async function loadEditChoices(registry: ToolRegistry, action: Action, waitMs = LIST_WAIT_MS): Promise<LoadedChoices> {
  const fields = (editableFields(action.tool) ?? []).filter((f) => f.choices);
  if (fields.length === 0) return { choices: {}, unavailable: undefined };
  const tool = registry.get(action.tool);
  if (!tool?.editChoices) return { choices: {}, unavailable: 'this tool offers no list to pick from' };
  const input = parseStoredJson(z.record(z.string(), z.unknown()), action.input_json, 'input of an action');
  const prepared = action.prepared_json ? parseStoredJson(z.record(z.string(), z.unknown()), action.prepared_json, 'prepared facts of an action') : {};
  let read: Record<string, EditChoices>;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the list did not arrive within ${waitMs / 1000} s`)), waitMs);
    });
    read = await Promise.race([tool.editChoices(input, prepared), late]);
  } catch (err) {
    return { choices: {}, unavailable: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
  const choices: Record<string, EditChoices> = {};
  for (const f of fields) {
    const list = read[f.key];
    if (!list || list.options.length === 0) return { choices: {}, unavailable: `there is nothing to pick for ${f.label.toLowerCase()}` };
    if (list.options.length > MAX_OPTIONS) return { choices: {}, unavailable: `there are more than ${MAX_OPTIONS} values to pick from, more than a Slack list shows` };
    if (list.options.some((o) => o.value.length > MAX_VALUE)) return { choices: {}, unavailable: 'a value is too long for a Slack list' };
    choices[f.key] = list;
  }
  return { choices, unavailable: undefined };
}
