import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Ids are generated through this interface so tests can make them predictable. */
export interface IdGenerator {
  /** Run ids are typed by people: `r-` and 7 lowercase letters/digits (the contract says at least 6). */
  runId(): string;
  /** Internal ids (actions, activity): never typed, so longer. */
  actionId(): string;
}

export const randomIds: IdGenerator = {
  runId: () => `r-${randomToken(7)}`,
  actionId: () => `a-${randomToken(12)}`,
};

export const RUN_ID_PATTERN = /^r-[a-z0-9]{6,}$/;
