/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in an IANA time
 * zone. Our own small evaluator, because the card must show the next fire times and plain words, and
 * the scheduler must decide "is this minute due?" from the database clock, not from a timer.
 */
export interface CronFields {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domStar: boolean;
  dowStar: boolean;
}

const RANGES: Array<[string, number, number]> = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 7],
];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export class CronError extends Error {}

function parseField(text: string, index: number): Set<number> {
  const [name, min, max] = RANGES[index]!;
  const names = index === 3 ? MONTHS : index === 4 ? DAYS : undefined;
  const value = (v: string): number => {
    const lower = v.toLowerCase();
    const named = names?.indexOf(lower) ?? -1;
    if (named >= 0) return index === 3 ? named + 1 : named;
    if (!/^\d+$/.test(v)) throw new CronError(`"${v}" is not a valid ${name}`);
    const n = Number(v);
    if (n < min || n > max) throw new CronError(`${name} ${n} is outside ${min}-${max}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new CronError(`"${part}" has an invalid step`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      [lo, hi] = [value(a), value(b)];
      if (lo > hi) throw new CronError(`"${range}" is an empty range`);
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(index === 4 && v === 7 ? 0 : v);
  }
  return out;
}

export function parseCron(expr: string): CronFields {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new CronError(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), "${expr}" has ${parts.length}`);
  const [m, h, dom, mon, dow] = parts.map((p, i) => parseField(p, i));
  return { minute: m!, hour: h!, dom: dom!, month: mon!, dow: dow!, domStar: parts[2] === '*', dowStar: parts[4] === '*' };
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  minute: number;
  hour: number;
  day: number;
  month: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function localParts(date: Date, tz: string): LocalParts {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', minute: 'numeric', hour: 'numeric', day: 'numeric', month: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  const parts = f.formatToParts(date);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return {
    minute: Number(get('minute')),
    hour: Number(get('hour')),
    day: Number(get('day')),
    month: Number(get('month')),
    weekday: DAYS.indexOf(get('weekday').toLowerCase().slice(0, 3)),
  };
}

/** Standard cron: when both day fields are restricted, either may match. */
export function matches(fields: CronFields, date: Date, tz: string): boolean {
  const p = localParts(date, tz);
  if (!fields.minute.has(p.minute) || !fields.hour.has(p.hour) || !fields.month.has(p.month)) return false;
  const domOk = fields.dom.has(p.day);
  const dowOk = fields.dow.has(p.weekday);
  if (fields.domStar && fields.dowStar) return true;
  if (fields.domStar) return dowOk;
  if (fields.dowStar) return domOk;
  return domOk || dowOk;
}

/** The next `count` fire times strictly after `from`, searching at most a year ahead. */
export function nextFireTimes(expr: string, tz: string, from: Date, count: number): Date[] {
  const fields = parseCron(expr);
  const out: Date[] = [];
  let t = Math.floor(from.getTime() / 60_000) * 60_000 + 60_000;
  const end = from.getTime() + 366 * 24 * 3600_000;
  while (t <= end && out.length < count) {
    const d = new Date(t);
    const p = localParts(d, tz);
    // Skip whole hours that cannot match (most candidates), then test minute by minute.
    if (!fields.hour.has(p.hour) || !fields.month.has(p.month)) {
      t += (60 - p.minute) * 60_000;
      continue;
    }
    if (matches(fields, d, tz)) out.push(d);
    t += 60_000;
  }
  return out;
}

/** The minute a date falls in, as a sortable key (the "never fire twice for one minute" marker). */
export function minuteKey(date: Date): string {
  return new Date(Math.floor(date.getTime() / 60_000) * 60_000).toISOString().slice(0, 16);
}

function list(values: number[], names?: string[]): string {
  const words = values.map((v) => names?.[v] ?? String(v));
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** Plain words for the common shapes; anything else is quoted as is. */
export function describeCron(expr: string, tz: string): string {
  const f = parseCron(expr);
  const parts = expr.trim().split(/\s+/);
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  const fixedTime = f.minute.size === 1 && f.hour.size === 1;
  const time = fixedTime ? `${String(sorted(f.hour)[0]).padStart(2, '0')}:${String(sorted(f.minute)[0]).padStart(2, '0')}` : undefined;
  let when: string;
  if (time && f.domStar && f.dowStar && parts[3] === '*') when = `every day at ${time}`;
  else if (time && f.domStar && !f.dowStar && parts[3] === '*') {
    const days = sorted(f.dow);
    when = days.join(',') === '1,2,3,4,5' ? `every weekday at ${time}` : `every ${list(days, DAY_NAMES)} at ${time}`;
  } else if (time && !f.domStar && f.dowStar && parts[3] === '*') when = `on day ${list(sorted(f.dom))} of every month at ${time}`;
  else if (parts[0] === '*' && parts.slice(1).every((p) => p === '*')) when = 'every minute';
  else if (/^\*\/\d+$/.test(parts[0] ?? '') && parts.slice(1).every((p) => p === '*')) when = `every ${parts[0]!.slice(2)} minutes`;
  else if (parts[0] !== undefined && /^\d+$/.test(parts[0]) && parts.slice(1).every((p) => p === '*')) when = `every hour at minute ${parts[0]}`;
  else when = `on the schedule \`${expr}\``;
  return `${when} (${tz})`;
}
