import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';

/** The bench's standard run: a knowledge-base search, an email that needs approval, a final answer. */
function standardRun(h: Harness, to: string): void {
  h.claude.enqueue(
    toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }], { text: 'Looking it up.' }),
    toolUseReply([{ name: 'send_email', input: { to, subject: 'Q2', body: 'Revenue grew 12%.' } }], { text: 'Emailing.' }),
    textReply(`Emailed ${to}.`),
  );
}

describe("Slack's rate limits (enforced by the fake, as in production)", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  // Paced by Slack's per-channel limit (about 40 s of waiting): run once, on SQLite; the outbox's database
  // side is covered on both engines by the other tests here.
  it.skipIf(TEST_ENGINE === 'postgres')('12 runs started at once in one channel: every task message, card and final answer arrives, none fails', async () => {
    h = await startHarness({ overrides: { outbox: { progressDelayMs: 2000, settleMs: 1000 } } });
    const n = 12;
    const tos = Array.from({ length: n }, (_, i) => `p${i}@acme.com`);
    // Each run proposes one email; the fake answers in request order, so each run gets its own script.
    h.claude.respond((body) => {
      const task = JSON.stringify(body.messages[0]);
      const to = tos.find((t) => task.includes(`mail ${t}`)) ?? 'x@acme.com';
      const last = body.messages.at(-1);
      const answered = JSON.stringify(last).includes('tool_result');
      return answered ? textReply(`Done for ${to}.`) : toolUseReply([{ name: 'send_email', input: { to, subject: 'Hi', body: 'Hello' } }]);
    });
    await Promise.all(tos.map((to) => h!.command(`run mail ${to}`)));
    const cards = await h.waitForCards(n, 40_000);
    expect(await h.app.db.selectFrom('runs').select('id').where('status', '=', 'failed').execute()).toHaveLength(0);
    for (const card of cards) await h.click(card, 'approve');
    await h.smtp.waitForMail(n, 30_000);
    await waitUntil(async () => (await h!.app.db.selectFrom('runs').select('id').where('status', '=', 'completed').execute()).length === n || undefined, 'all runs completed', 30_000);
    await h.delivered();
    const runs = await h.app.db.selectFrom('runs').selectAll().execute();
    for (const run of runs) {
      const texts = h.threadTexts(run);
      expect(texts.filter((t) => t.startsWith('Done for '))).toHaveLength(1);
      expect(JSON.stringify(h.taskMessage(run)?.blocks)).toContain('completed');
    }
    // 429s may happen (the pacer stays just under the limit), but every one was waited out.
    expect(h.smtp.mails).toHaveLength(n);
    expect(h.cards()).toHaveLength(n);
  }, 120_000);

  it('runs spread over several channels do not wait for each other', async () => {
    h = await startHarness();
    const channels = ['C_A', 'C_B', 'C_C', 'C_D'];
    h.claude.respond(() => textReply('Answer.'));
    await Promise.all(channels.flatMap((c) => [1, 2].map(() => h!.command('run say hi', { channelId: c }))));
    await waitUntil(async () => (await h!.app.db.selectFrom('runs').select('id').where('status', '=', 'completed').execute()).length === 8 || undefined, 'all runs completed', 30_000);
    await h.delivered();
    for (const run of await h.app.db.selectFrom('runs').selectAll().execute()) {
      expect(h.threadTexts(run)).toEqual([finalText('Answer.')]);
    }
  }, 60_000);

  it('a 429 on the card post is waited out (Retry-After) and the card appears once', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    h.claude.setLatency(200);
    await h.command('run email A');
    await h.slack.waitFor('chat.postMessage', (_args, call) => call.ok);
    h.slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    const [card] = await h.waitForCards(1, 10_000);
    const rejectedAt = h.slack.calls.find((c) => c.method === 'chat.postMessage' && c.error === 'ratelimited')!.at;
    const postedAt = h.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.ok).at(-1)!.at;
    expect(postedAt - rejectedAt).toBeGreaterThanOrEqual(900);
    await h.delivered();
    expect(h.cards()).toHaveLength(1);
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
  });

  it('Slack answers 500 after it stored the card: the card is found in the thread, never posted twice', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    h.claude.setLatency(200);
    await h.command('run email A');
    await h.slack.waitFor('chat.postMessage', (_args, call) => call.ok);
    h.slack.failNext('chat.postMessage', { status: 500, afterEffect: true });
    await h.waitForCards(1);
    await h.slack.waitFor('conversations.replies');
    await h.delivered();
    const run = await h.onlyRun();
    expect(h.cards()).toHaveLength(1);
    const action = await h.app.db.selectFrom('actions').selectAll().executeTakeFirstOrThrow();
    expect(action.card_ts).toBe(h.cards()[0]!.ts);
    // The card that is shown is the one the app knows: its buttons work.
    await h.click(h.cards()[0]!, 'approve');
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.id === run.id && r.status === 'completed');
  });

  it('the standard run (3 turns, 1 approval) costs at most 3 chat.postMessage and 3 chat.update, in thread order', async () => {
    // The real progress delay: several steps fold into one task-message update.
    h = await startHarness({ overrides: { outbox: { progressDelayMs: 2000, settleMs: 1000 } } });
    standardRun(h, 'sarah@acme.com');
    await h.command('run email Sarah the Q2 summary');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'approve');
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    const posts = h.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.ok);
    const updates = h.slack.calls.filter((c) => c.method === 'chat.update' && c.ok);
    expect(posts.length).toBeLessThanOrEqual(3);
    expect(updates.length).toBeLessThanOrEqual(3);
    // What people see: the card, then the answer, in the task thread; the task message says completed.
    const texts = h.threadTexts(run);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain('Send email to sarah@acme.com');
    expect(texts[1]).toBe(finalText('Emailed sarah@acme.com.'));
    const task = JSON.stringify(h.taskMessage(run)?.blocks);
    expect(task).toContain('completed');
    expect(task).toContain('Search the knowledge base');
  });

  it('a restart with messages still queued delivers each exactly once', async () => {
    h = await startHarness();
    h.claude.respond(() => textReply('Answer.'));
    // Slack refuses every post for now: the messages wait in the outbox.
    h.slack.failNext('chat.postMessage', { status: 429, retryAfter: 4 }, 1);
    await Promise.all([1, 2, 3].map(() => h!.command('run say hi')));
    await waitUntil(async () => (await h!.app.db.selectFrom('runs').select('id').where('status', '=', 'completed').execute()).length === 3 || undefined, 'runs completed');
    const queued = await h.app.db.selectFrom('slack_outbox').select('id').where('status', 'in', ['queued', 'unknown']).execute();
    expect(queued.length).toBeGreaterThan(0);
    await h.restart();
    await h.delivered();
    const runs = await h.app.db.selectFrom('runs').selectAll().execute();
    for (const run of runs) {
      expect(h.slack.channelMessages(run.channel_id).filter((m) => m.text.startsWith(`Task ${run.id} `))).toHaveLength(1);
      expect(h.threadTexts(run)).toEqual([finalText('Answer.')]);
    }
  }, 60_000);
});
