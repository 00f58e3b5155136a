import { describe, expect, it } from 'vitest';
import { formatDelay, parseDelay } from '../../src/agent/durations.js';

describe('approval rule delays', () => {
  it('reads minutes, hours, days and combinations, within 1 minute to 30 days', () => {
    expect(parseDelay('30m')).toBe(1800);
    expect(parseDelay('4h')).toBe(14_400);
    expect(parseDelay('2d')).toBe(172_800);
    expect(parseDelay('1h30m')).toBe(5400);
    expect(parseDelay('1H')).toBe(3600);
    for (const bad of ['', '0m', '10s', '31d', '4', 'h', '1.5h', '-1h', '4h ago', '1h 30m']) expect(parseDelay(bad), bad).toBeUndefined();
  });

  it('writes them back in the same units', () => {
    expect(formatDelay(5400)).toBe('1h 30m');
    expect(formatDelay(14_400)).toBe('4h');
    expect(formatDelay(90_061)).toBe('1d 1h 1m');
    expect(formatDelay(parseDelay('2d')!)).toBe('2d');
  });
});
