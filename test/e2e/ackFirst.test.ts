import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { signSlackRequest, slashCommandBody } from '../helpers/slackRequests.js';
import { REQUESTER, SIGNING_SECRET, startHarness, TASK_CHANNEL, waitUntil, type Harness } from '../helpers/testApp.js';

/**
 * A signed `/agent help` whose body arrives in two parts: until the second part is sent, the app has a
 * request in flight that it cannot answer yet.
 */
function heldRequest(baseUrl: string): { finish(): Promise<{ status: number; body: string }> } {
  const body = slashCommandBody({ text: 'help', userId: REQUESTER, userName: 'alice', channelId: TASK_CHANNEL });
  const url = new URL('/slack/events', baseUrl);
  let answered!: (r: { status: number; body: string }) => void;
  let failed!: (e: Error) => void;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    answered = resolve;
    failed = reject;
  });
  const req = request(
    url,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...signSlackRequest(SIGNING_SECRET, body) },
    },
    (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => answered({ status: res.statusCode ?? 0, body: text }));
    },
  );
  req.on('error', failed);
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return {
    finish() {
      req.end(body.slice(half));
      return response;
    },
  };
}

describe('acknowledgements first: background work waits for requests being answered', () => {
  let h: Harness;
  beforeEach(async () => {
    // A long bound, so only the answer to the held request can let the run go on.
    h = await startHarness({ overrides: { foreground: { maxDeferMs: 120_000 } } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('a started run does not take its first step while another request is waiting to be answered', async () => {
    h.claude.enqueue(textReply('Done: nothing to send.'));
    const held = heldRequest(h.baseUrl);
    await waitUntil(() => (h.app.foreground.inFlight === 1 ? true : undefined), 'the held request to reach the app');

    // The command is answered (it is a request too, and requests go first)...
    const res = await h.command('run summarise the Q2 report');
    expect(res.status).toBe(200);
    expect(res.json?.text).toMatch(/Starting run `r-/);
    const run = await h.onlyRun();
    expect(run.status).toBe('running');

    // ...and its run waits behind the held request: no model call yet. Two waiters: the outbox's pass
    // (the task message) and the run's first step; nothing else can move while the request is open.
    await waitUntil(() => (h.app.foreground.queued >= 2 ? true : undefined), 'the run and the outbox to wait for their turn');
    expect(h.claude.requests).toHaveLength(0);
    expect(h.app.foreground.inFlight).toBe(1);

    const answer = await held.finish();
    expect(answer.status).toBe(200);
    const done = await h.waitForRun((r) => r.status === 'completed');
    expect(done.id).toBe(run.id);
    expect(h.claude.requests).toHaveLength(1);
  });

  it('an approved action is dispatched only after the click has been answered, and only once', async () => {
    const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Revenue grew 12% in Q2.' };
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }], { thinking: '', text: 'Sending.' }), textReply('Sent.'));
    expect((await h.command('run email Sarah')).status).toBe(200);
    const [card] = await h.waitForCards(1);
    await h.waitForRun((r) => r.status === 'awaiting_approval');

    const held = heldRequest(h.baseUrl);
    await waitUntil(() => (h.app.foreground.inFlight === 1 ? true : undefined), 'the held request to reach the app');
    // The click is persisted and answered while the other request is still open...
    expect((await h.click(card!, 'approve')).status).toBe(200);
    const { db } = h.database.open();
    const approved = await db.selectFrom('actions').select(['status', 'decided_by']).executeTakeFirstOrThrow().finally(() => db.destroy());
    expect(approved.status).toBe('approved');
    // ...and the dispatch waits behind that request (with the outbox's pass: the card update).
    await waitUntil(() => (h.app.foreground.queued >= 2 ? true : undefined), 'the run and the outbox to wait for their turn');
    expect(h.smtp.mails).toHaveLength(0);

    expect((await held.finish()).status).toBe(200);
    await h.waitForRun((r) => r.status === 'completed');
    expect(h.smtp.mails).toHaveLength(1);
  });
});
