import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

describe('cards: approvals channel, long content, health', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('with APPROVALS_CHANNEL the card goes there, links to the task, and the thread links to the card', async () => {
    h = await startHarness({ env: { APPROVALS_CHANNEL: 'C0APPROVE' } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    expect(card!.channel).toBe('C0APPROVE');
    expect(card!.message.thread_ts).toBeUndefined();
    expect(JSON.stringify(card!.message.blocks)).toContain('open the task');
    const run = await h.onlyRun();
    await waitUntil(() => h!.threadTexts(run).some((t) => t.includes('Waiting for approval') && t.includes('see the card')), 'link in thread');
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
  });

  it('falls back to the task thread when the approvals channel cannot be used, and never sends because of it', async () => {
    h = await startHarness({ env: { APPROVALS_CHANNEL: 'C0ARCHIVE' } });
    h.slack.setChannel('C0ARCHIVE', { is_archived: true });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    const run = await h.onlyRun();
    expect(card!.channel).toBe(run.channel_id);
    expect(card!.message.thread_ts).toBe(run.thread_ts);
    expect(h.threadTexts(run).some((t) => t.includes('could not post the approval card in <#C0ARCHIVE>'))).toBe(true);
    expect(h.smtp.dataAttempts()).toBe(0);
  });

  it('a card that fails to post is retried and nothing is dispatched meanwhile', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]));
    h.claude.setLatency(300);
    await h.command('run email A');
    // The task message is posted; the next post (the card) and the warning after it fail with a 500.
    await h.slack.waitFor('chat.postMessage', (_args, call) => call.ok);
    h.slack.failNext('chat.postMessage', { status: 500 }, 2);
    const [card] = await h.waitForCards(1, 8000);
    const failures = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'card_post_failed').execute();
    expect(failures.length).toBeGreaterThanOrEqual(1);
    // The card is posted just before the run is marked waiting: wait for the mark, do not race it.
    await h.waitForRun((r) => r.status === 'awaiting_approval');
    expect(h.smtp.dataAttempts()).toBe(0);
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
  });

  it('long content is truncated on the card with a View full button that opens the whole text', async () => {
    h = await startHarness();
    const body = Array.from({ length: 200 }, (_, i) => `Line ${i}: the quarterly numbers, explained at length.`).join('\n');
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Long', body } }]));
    await h.command('run send the long report');
    const [card] = await h.waitForCards(1);
    const blocks = JSON.stringify(card!.message.blocks);
    expect(blocks).toContain('View full');
    expect(blocks).not.toContain('Line 199');
    await h.click(card!, 'view_full');
    const opened = await h.slack.waitFor('views.open');
    expect(JSON.stringify(opened['view'])).toContain('Line 199');
  });

  it('GET /healthz answers 200 when ready', async () => {
    h = await startHarness();
    const res = await fetch(`${h.baseUrl}/healthz`);
    expect(res.status).toBe(200);
  });
});
