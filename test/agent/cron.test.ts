import { describe, expect, it } from 'vitest';
import { describeCron, matches, nextFireTimes, parseCron } from '../../src/agent/cron.js';

describe('cron', () => {
  it('refuses invalid expressions with the reason', () => {
    expect(() => parseCron('* * *')).toThrow(/5 fields/);
    expect(() => parseCron('61 * * * *')).toThrow(/minute 61 is outside 0-59/);
    expect(() => parseCron('0 9 * * funday')).toThrow(/not a valid day of week/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/invalid step/);
    expect(() => parseCron('0 9 * * 5-1')).toThrow(/empty range/);
  });
  it('computes the next fire times in the time zone', () => {
    const from = new Date('2026-11-21T12:00:00Z'); // a Saturday
    const next = nextFireTimes('0 9 * * mon', 'Europe/Paris', from, 3).map((d) => d.toISOString());
    expect(next).toEqual(['2026-11-23T08:00:00.000Z', '2026-11-30T08:00:00.000Z', '2026-12-07T08:00:00.000Z']);
    expect(nextFireTimes('*/15 * * * *', 'UTC', from, 2).map((d) => d.toISOString())).toEqual(['2026-11-21T12:15:00.000Z', '2026-11-21T12:30:00.000Z']);
  });
  it('matches day-of-month or day-of-week when both are restricted', () => {
    const f = parseCron('0 9 1 * mon');
    expect(matches(f, new Date('2026-12-01T09:00:00Z'), 'UTC')).toBe(true); // the 1st (a Tuesday)
    expect(matches(f, new Date('2026-11-23T09:00:00Z'), 'UTC')).toBe(true); // a Monday
    expect(matches(f, new Date('2026-11-24T09:00:00Z'), 'UTC')).toBe(false);
  });
  it('describes common schedules in plain words', () => {
    expect(describeCron('0 9 * * 1', 'Europe/Paris')).toBe('every Monday at 09:00 (Europe/Paris)');
    expect(describeCron('30 8 * * 1-5', 'UTC')).toBe('every weekday at 08:30 (UTC)');
    expect(describeCron('0 7 * * *', 'UTC')).toBe('every day at 07:00 (UTC)');
    expect(describeCron('0 7 1 * *', 'UTC')).toBe('on day 1 of every month at 07:00 (UTC)');
    expect(describeCron('5 4 3 2 *', 'UTC')).toBe('on the schedule `5 4 3 2 *` (UTC)');
  });
});
