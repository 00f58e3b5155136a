import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';

const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };

describe('durability across restarts and crashes', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a card posted before a restart still works afterwards (new app instance, same database file)', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }], { thinking: 'Need approval first.' }), textReply('Sent.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    // The card is posted just before the run is marked waiting: wait for the mark, do not race it.
    await h.waitForRun((r) => r.status === 'awaiting_approval');

    await h.restart();
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
    const run = await h.waitForRun((r) => r.status === 'completed');
    await waitUntil(() => h!.threadTexts(run).includes(finalText('Sent.')), 'final answer after restart');
    // The conversation, including the thinking block, was replayed verbatim from SQLite (the fake checks).
    expect(h.claude.requests.every((r) => !r.rejected)).toBe(true);
    expect(h.smtp.mails).toHaveLength(1);
  });

  it('a run whose last card was approved just before a crash (still marked waiting) resumes after a restart', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.stopApp();
    // The state a crash right after the approval's commit could leave behind in older versions.
    const probe = h.database.open();
    const a = await probe.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    await probe.db.updateTable('actions').set({ status: 'approved', decided_by: 'U_APPROVER', decided_at: new Date().toISOString(), approved_hash: a.input_hash }).where('id', '=', a.id).execute();
    await probe.db.destroy();
    await h.restart();
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
  });

  it('a run interrupted between steps resumes by itself after a restart', async () => {
    h = await startHarness();
    // The model answers slowly; the app is stopped while the second call is in flight and restarted.
    h.claude.respond((_body, ctx) =>
      ctx.callIndex === 0 ? toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]) : textReply('Q2 revenue grew 12%.'),
    );
    h.claude.setLatency(300);
    await h.command('run what happened in Q2?');
    await h.claude.waitForRequests(2, 5000).catch(() => undefined);
    await h.stopApp();
    h.claude.setLatency(0);
    await h.restart();
    const run = await h.waitForRun((r) => r.status === 'completed', 8000);
    await waitUntil(() => h!.threadTexts(run).some((t) => t.includes('Q2 revenue grew 12%.')), 'final answer');
    const searches = await h.app.db.selectFrom('actions').selectAll().where('tool', '=', 'search_knowledge_base').execute();
    expect(searches).toHaveLength(1);
    expect(searches[0]!.status).toBe('succeeded');
  });

  it('kill -9 between claim and dispatch: the email is marked outcome_unknown, never resent, and a human is asked to check', async () => {
    h = await startHarness({ smtp: { stallData: true } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('I could not confirm the email; please check.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);

    // The real app in a child process takes the click and hangs inside the SMTP send.
    const child = await h.spawnChild();
    await h.click(card!, 'approve');
    const probe = h.database.open();
    await waitUntil(async () => {
      const a = await probe.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirst();
      return a?.status === 'dispatching' && h!.smtp.dataAttempts() === 1 ? true : undefined;
    }, 'the send to be in flight', 10_000);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await probe.db.destroy();

    await h.restart();
    const action = await waitUntil(async () => {
      const a = await h!.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirst();
      return a?.status === 'outcome_unknown' ? a : undefined;
    }, 'outcome_unknown');
    expect(JSON.parse(action.result_json!).is_error).toBe(true);

    const run = await h.waitForRun((r) => r.status === 'completed');
    const thread = h.threadTexts(run).join('\n');
    expect(thread).toContain('Please check');
    expect(thread).toContain("I can't tell whether \"Send email to sarah@acme.com, subject 'Q2'\" happened");
    const card2 = JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks);
    expect(card2).toContain('Outcome unknown');

    // The model was told, and nothing tried to send again.
    const last = h.claude.requests.filter((r) => !r.rejected).at(-1)!.body;
    expect(JSON.stringify(last.messages.at(-1))).toContain('Outcome unknown');
    await h.app.engine.idle();
    expect(h.smtp.dataAttempts()).toBe(1);
    expect(h.smtp.mails).toHaveLength(0);
  }, 120_000);
});
