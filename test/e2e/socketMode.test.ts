import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APP_TOKEN, APPROVER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const email = { to: 'sarah@acme.com', subject: 'Re: Q2 report', body: 'Hi Sarah,\n\nRevenue grew 12% in Q2.\n\nAlice' };

interface Health {
  status: number;
  body: { ok: boolean; ready?: boolean; socket?: string };
}

async function health(h: Harness): Promise<Health> {
  const res = await fetch(`${h.baseUrl}/healthz`);
  return { status: res.status, body: (await res.json()) as Health['body'] };
}

/** Polls /healthz until it answers with this status. */
function healthBecomes(h: Harness, status: number): Promise<Health> {
  return waitUntil(async () => {
    const r = await health(h);
    return r.status === status ? r : undefined;
  }, `/healthz to answer ${status}`);
}

/** A pino logger whose lines a test can read. */
function capturedLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** One `/agent run` through to a sent email, with every payload travelling over the Socket Mode link. */
async function approvedRun(h: Harness, to: string, mailsBefore: number): Promise<void> {
  h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { ...email, to } }], { text: `I will email ${to}.` }), textReply(`Emailed ${to}.`));
  const res = await h.command(`run email ${to} the Q2 summary`);
  expect(res.status).toBe(200);
  expect(res.json?.text).toMatch(/Starting run `r-[a-z0-9]{6,}`/);
  const card = await waitUntil(() => h.cards().find((c) => JSON.stringify(c.message.blocks).includes(to)), `the card for ${to}`);
  const click = await h.click(card, 'approve');
  expect(click.status).toBe(200);
  const mails = await h.smtp.waitForMail(mailsBefore + 1);
  expect(mails[mailsBefore]!.headers.to).toBe(to);
  const run = await h.waitForRun((r) => r.status === 'completed' && r.task.includes(to));
  await waitUntil(() => h.threadTexts(run).some((t) => t.includes(`Emailed ${to}.`)), 'the final answer in the thread');
  const updated = h.slack.message(card.channel, card.ts)!;
  expect(JSON.stringify(updated.blocks)).toContain(`Approved* by <@${APPROVER}>`);
}

describe('Socket Mode end to end', () => {
  let h: Harness | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    process.off('unhandledRejection', onUnhandled);
    await h?.close();
    h = undefined;
  });

  it('connects through SLACK_API_URL, approves a send, survives a refresh with 503s from apps.connections.open, and runs again on the new link', async () => {
    const log = capturedLogger();
    h = await startHarness({ socketMode: true, overrides: { logger: log.logger } });
    const socket = h.socket!;

    // apps.connections.open went to the fake (SLACK_API_URL) with the app-level token, and its URL was used.
    expect(h.slack.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.ok)).toEqual([true]);
    await socket.waitForConnection(1);
    expect(socket.refused).toBe(0);
    expect(await health(h)).toEqual({ status: 200, body: { ok: true, ready: true, socket: 'connected' } });

    await approvedRun(h, 'sarah@acme.com', 0);

    // Slack refreshes the link while apps.connections.open is failing: no crash, /healthz says why.
    socket.hold();
    h.slack.failNext('apps.connections.open', { status: 503 }, 2);
    const first = socket.disconnect('refresh_requested', { close: true });
    await socket.waitForClosed(first);
    const down = await healthBecomes(h, 503);
    expect(down.body.ok).toBe(false);
    expect(down.body.ready).toBe(true);
    expect(['reconnecting', 'connecting']).toContain(down.body.socket);

    // Two 503s, then a URL; the new link waits for its hello and /healthz still says 503.
    await h.slack.waitForCount('apps.connections.open', 4);
    expect(h.slack.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.error ?? 'ok')).toEqual(['ok', 'http_503', 'http_503', 'ok']);
    await waitUntil(() => socket.held() === 1, 'the new link to be waiting for hello');
    expect((await health(h)).body).toEqual({ ok: false, ready: true, socket: 'connecting' });

    socket.release();
    await socket.waitForConnection(2);
    await healthBecomes(h, 200);

    // A second run, entirely over the new link.
    await approvedRun(h, 'tom@acme.com', 1);
    expect(socket.connections[1]!.closed).toBe(false);

    expect(unhandled).toEqual([]);
    expect(socket.protocolErrors).toEqual([]);
    expect(socket.refused).toBe(0);

    // The log tells the story with the URL, and never a token or the one-time WebSocket ticket.
    const openUrl = `${h.slack.url}apps.connections.open`;
    const socketLines = log.lines.filter((l) => String(l['msg']).startsWith('Socket Mode'));
    const messages = socketLines.map((l) => String(l['msg']));
    expect(messages).toContain('Socket Mode: connected');
    expect(messages).toContain('Socket Mode: Slack asked to reconnect');
    expect(messages).toContain('Socket Mode: disconnected; reconnecting');
    // Backoff: the refreshed link had lived less than stableAfterMs, so each step doubles from 20 ms.
    expect(socketLines.find((l) => l['msg'] === 'Socket Mode: disconnected; reconnecting')).toMatchObject({ reason: 'refresh_requested', retryInMs: 20 });
    const failed = socketLines.filter((l) => l['msg'] === 'Socket Mode: reconnect failed; retrying');
    expect(failed.map((l) => [l['err'], l['retryInMs']])).toEqual([
      [`${openUrl} answered HTTP 503`, 40],
      [`${openUrl} answered HTTP 503`, 80],
    ]);
    expect(socketLines.every((l) => l['url'] === openUrl)).toBe(true);
    const all = JSON.stringify(log.lines);
    expect(all).not.toContain(APP_TOKEN);
    expect(all).not.toContain('xoxb-test');
    expect(all).not.toContain('ticket=');
  });

  it('keeps retrying when the very first connect fails, answering 503 and naming the URL in the log, then serves once Slack answers', async () => {
    const log = capturedLogger();
    h = await startHarness({ socketMode: true, overrides: { logger: log.logger } });
    const socket = h.socket!;
    await h.stopApp();

    // A restart while apps.connections.open answers ok:false, then 503, then a link that waits for hello.
    socket.hold();
    h.slack.failNext('apps.connections.open', { error: 'internal_error' });
    h.slack.failNext('apps.connections.open', { status: 503 });
    log.lines.length = 0;
    await h.restart();

    const openUrl = `${h.slack.url}apps.connections.open`;
    const startup = log.lines.find((l) => String(l['msg']).startsWith('Socket Mode: could not connect to Slack at startup'));
    expect(startup).toMatchObject({ level: 50, url: openUrl, err: `${openUrl} answered ok:false (internal_error)` });
    const down = await health(h);
    expect(down.status).toBe(503);
    expect(down.body.ok).toBe(false);
    expect(['reconnecting', 'connecting']).toContain(down.body.socket);

    await waitUntil(() => socket.held() === 1, 'the link to be waiting for hello');
    expect(await health(h)).toEqual({ status: 503, body: { ok: false, ready: true, socket: 'connecting' } });
    socket.release();
    await healthBecomes(h, 200);
    expect(h.slack.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.error ?? 'ok')).toEqual(['ok', 'internal_error', 'http_503', 'ok']);

    // And it serves: a run that needs no approval answers in its thread.
    h.claude.enqueue(textReply('Revenue grew 12% in Q2.'));
    expect((await h.command('run what was Q2 revenue?')).status).toBe(200);
    const run = await h.waitForRun((r) => r.status === 'completed');
    await waitUntil(() => h!.threadTexts(run).some((t) => t.includes('Revenue grew 12% in Q2.')), 'the answer in the thread');
    expect(unhandled).toEqual([]);
  });

  it('stops startup with a clear message when Slack refuses the app token', async () => {
    h = await startHarness({ socketMode: true });
    await h.stopApp();
    h.env['SLACK_APP_TOKEN'] = 'xapp-1-revoked';
    await expect(h.restart()).rejects.toThrow(
      `Cannot start: Slack did not accept SLACK_APP_TOKEN at ${h.slack.url}apps.connections.open (invalid_auth)`,
    );
    expect(h.slack.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.error ?? 'ok')).toEqual(['ok', 'invalid_auth']);
  });

  it('reconnects after a warning, a lost network and Slack turning Socket Mode off and on, each on a fresh URL', async () => {
    const log = capturedLogger();
    h = await startHarness({ socketMode: true, overrides: { logger: log.logger } });
    const socket = h.socket!;
    await socket.waitForConnection(1);

    // Slack may warn ~10 s before a refresh; the client reconnects right away.
    socket.disconnect('warning');
    await socket.waitForConnection(2);
    await healthBecomes(h, 200);

    socket.drop();
    await socket.waitForConnection(3);
    await healthBecomes(h, 200);

    socket.disconnect('link_disabled', { close: true });
    await socket.waitForConnection(4);
    await healthBecomes(h, 200);

    expect(h.slack.callsTo('apps.connections.open')).toHaveLength(4);
    expect(socket.connections.slice(0, 3).every((c) => c.closed)).toBe(true);
    expect(socket.refused).toBe(0);
    expect(socket.protocolErrors).toEqual([]);
    const drops = log.lines.filter((l) => String(l['msg']).includes('reconnecting') || String(l['msg']).includes('turned Socket Mode off'));
    expect(drops.map((l) => l['reason'])).toEqual(['warning', 'connection lost', 'link_disabled']);
    expect(drops[2]).toMatchObject({ level: 50, msg: 'Socket Mode: Slack turned Socket Mode off for this app; turn it back on in the app settings (retrying)' });

    // Still serving on the fourth link.
    h.claude.enqueue(textReply('Done.'));
    expect((await h.command('run say done')).status).toBe(200);
    await h.waitForRun((r) => r.status === 'completed');
    expect(unhandled).toEqual([]);
  });

  it('abandons a WebSocket on which Slack never says hello, and connects on a fresh URL', async () => {
    const log = capturedLogger();
    h = await startHarness({
      socketMode: true,
      overrides: { logger: log.logger, socketReconnect: { initialDelayMs: 20, maxDelayMs: 200, helloTimeoutMs: 300 } },
    });
    const socket = h.socket!;
    socket.hold();
    socket.disconnect('refresh_requested', { close: true });

    await waitUntil(() => log.lines.find((l) => l['msg'] === 'Socket Mode: Slack sent no hello; abandoning this WebSocket'), 'the hello timeout');
    await waitUntil(() => log.lines.find((l) => l['err'] === 'the WebSocket closed before Slack said hello'), 'the abandoned attempt to be logged');
    await h.slack.waitForCount('apps.connections.open', 3);
    expect((await health(h)).status).toBe(503);

    socket.release();
    await healthBecomes(h, 200);
    expect(socket.refused).toBe(0);
    expect(unhandled).toEqual([]);
  });
});
