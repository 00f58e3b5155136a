import { describe, expect, it } from 'vitest';
import { Foreground } from '../src/foreground.js';

/** Lets the event loop go round `n` times (each round polls I/O and runs one batch of setImmediate). */
async function loopTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('Foreground: background work waits for requests being answered', () => {
  it('holds a unit back while a request is in flight and lets it go once the request is answered', async () => {
    const fg = new Foreground({ maxDeferMs: 60_000 });
    const order: string[] = [];
    const end = fg.begin();
    const unit = fg.turn().then(() => order.push('background'));
    await loopTurns(20);
    expect(order).toEqual([]);
    expect(fg.queued).toBe(1);
    order.push('answered');
    end();
    await unit;
    expect(order).toEqual(['answered', 'background']);
    expect(fg.queued).toBe(0);
  });

  it('waits for every request in flight, not just the first', async () => {
    const fg = new Foreground({ maxDeferMs: 60_000 });
    const order: string[] = [];
    const endA = fg.begin();
    const endB = fg.begin();
    const unit = fg.turn().then(() => order.push('background'));
    endA();
    endA(); // ending twice counts once
    await loopTurns(20);
    expect(order).toEqual([]);
    expect(fg.inFlight).toBe(1);
    order.push('B answered');
    endB();
    await unit;
    expect(order).toEqual(['B answered', 'background']);
  });

  it('never gives a turn in the same event-loop round it was asked for (pending I/O is polled first)', async () => {
    const fg = new Foreground({ maxDeferMs: 60_000 });
    let released = false;
    const unit = fg.turn().then(() => (released = true));
    // Microtasks alone never release it.
    for (let i = 0; i < 100; i++) await Promise.resolve();
    expect(released).toBe(false);
    await unit;
    expect(released).toBe(true);
  });

  it('releases waiters one per loop round in FIFO order, so a request that arrives in between goes first', async () => {
    const fg = new Foreground({ maxDeferMs: 60_000 });
    const order: string[] = [];
    let endRequest: (() => void) | undefined;
    const first = fg.turn().then(() => {
      order.push('first');
      // A request arrives while the first unit runs: the second unit must wait for its answer.
      endRequest = fg.begin();
    });
    const second = fg.turn().then(() => order.push('second'));
    await first;
    await loopTurns(20);
    expect(order).toEqual(['first']);
    order.push('answered');
    endRequest!();
    await second;
    expect(order).toEqual(['first', 'answered', 'second']);
  });

  it('lets a unit go after maxDeferMs even while requests keep coming (no starvation)', async () => {
    const fg = new Foreground({ maxDeferMs: 30 });
    const order: string[] = [];
    fg.begin(); // never answered
    await fg.turn().then(() => order.push('background'));
    expect(order).toEqual(['background']);
    expect(fg.inFlight).toBe(1);
  });
});
