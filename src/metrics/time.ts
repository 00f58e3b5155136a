/** Seconds from one stored ISO time to another (0 when either is unreadable). */
export function secondsBetween(fromIso: string, toIso: string): number {
  const d = (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
  return Number.isFinite(d) ? d : 0;
}
