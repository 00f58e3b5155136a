/** Admins write delays like `30m`, `4h`, `2d` or `1h30m`; they are stored in seconds. */
const UNIT_S = { m: 60, h: 3600, d: 86_400 } as const;

/** Shorter than a minute is noise for a human approval; longer than 30 days is forgotten, not policy. */
export const MIN_DELAY_S = 60;
export const MAX_DELAY_S = 30 * 86_400;

/** Seconds, or undefined when the text is not a delay within the allowed range. */
export function parseDelay(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!/^(\d{1,5}[mhd])+$/.test(t)) return undefined;
  let seconds = 0;
  for (const m of t.matchAll(/(\d{1,5})([mhd])/g)) seconds += Number(m[1]) * UNIT_S[m[2] as keyof typeof UNIT_S];
  return seconds >= MIN_DELAY_S && seconds <= MAX_DELAY_S ? seconds : undefined;
}

/** `5400` -> `1h 30m`; whole units only (what parseDelay accepts). */
export function formatDelay(seconds: number): string {
  const parts: string[] = [];
  let left = Math.round(seconds);
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    const n = Math.floor(left / size);
    if (n > 0) parts.push(`${n}${unit}`);
    left -= n * size;
  }
  return parts.join(' ') || '0m';
}
