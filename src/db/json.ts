import type { z } from 'zod';
import { AppError } from '../errors.js';

/** Stored JSON is a boundary too: parse it with the schema it was written with. */
export function parseStoredJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AppError('invalid_state', `Stored ${what} is not valid JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new AppError('invalid_state', `Stored ${what} has an unexpected shape: ${parsed.error.message}`);
  return parsed.data;
}
