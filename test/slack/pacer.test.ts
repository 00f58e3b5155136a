import { describe, expect, it } from 'vitest';
import { SLACK_LIMITS, SlackPacer } from '../../src/slack/outbox/pacer.js';

describe('Slack pacer shared by several instances', () => {
  it('alone, an instance uses the whole budget: a burst of two posts per channel, then one every 1.1 s', () => {
    const now = 1_000_000;
    const pacer = new SlackPacer(() => now, SLACK_LIMITS, () => 1);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(0);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(0);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(1100);
  });

  it('with two live instances each takes half: one post per channel, then one every 2.2 s; half of each per-minute limit', () => {
    let now = 1_000_000;
    let instances = 2;
    const pacer = new SlackPacer(() => now, SLACK_LIMITS, () => instances);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(0);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(2200);
    for (let i = 0; i < 22; i++) expect(pacer.take('T1', 'chat.update')).toBe(0);
    expect(pacer.take('T1', 'chat.update')).toBeGreaterThan(0);
    // An instance leaves: the survivor's share grows back at once.
    instances = 1;
    now += 1100;
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(0);
    for (let i = 0; i < 23; i++) expect(pacer.take('T1', 'chat.update')).toBe(0);
    expect(pacer.take('T1', 'chat.update')).toBeGreaterThan(0);
  });
});

describe('Slack pacer: asking how long a call would wait', () => {
  it('takes nothing: the same calls still go afterwards, and the answer matches what take() then says', () => {
    let now = 1_000_000;
    const pacer = new SlackPacer(() => now, SLACK_LIMITS, () => 1);
    for (let i = 0; i < 5; i++) expect(pacer.wait('T1', 'chat.postMessage', 'C1')).toBe(0);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(0);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(0);
    expect(pacer.wait('T1', 'chat.postMessage', 'C1')).toBe(1100);
    expect(pacer.take('T1', 'chat.postMessage', 'C1')).toBe(1100);
    // Another channel is not held back by C1.
    expect(pacer.wait('T1', 'chat.postMessage', 'C2')).toBe(0);
    for (let i = 0; i < 45; i++) expect(pacer.take('T1', 'chat.update')).toBe(0);
    const wait = pacer.wait('T1', 'chat.update');
    expect(wait).toBeGreaterThan(0);
    expect(pacer.take('T1', 'chat.update')).toBe(wait);
    // A 429's block shows in both.
    pacer.block('T1', 'chat.postMessage', 'C2', 3000);
    expect(pacer.wait('T1', 'chat.postMessage', 'C2')).toBe(3000);
    now += 3000;
    expect(pacer.wait('T1', 'chat.postMessage', 'C2')).toBe(0);
  });
});
