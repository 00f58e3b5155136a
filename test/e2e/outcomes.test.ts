import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startFaultyHttpServer, type FaultyHttpServer } from '../helpers/faultyHttp.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };

/** Sends whose result cannot be known are neither "done" nor "not sent": a person is asked to check. */
describe('honest outcomes from connectors', () => {
  let h: Harness | undefined;
  let api: FaultyHttpServer | undefined;
  afterEach(async () => {
    await h?.close();
    await api?.close();
    h = undefined;
    api = undefined;
  });

  it('the mail server takes the whole message and drops the connection instead of 250: outcome unknown, Please check, never sent twice', async () => {
    h = await startHarness({ smtp: { dropConnection: 'after_data' } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('I could not confirm the email was sent; please check.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'approve');

    const action = await waitUntil(async () => {
      const a = await h!.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirst();
      return a?.status === 'outcome_unknown' ? a : undefined;
    }, 'the action to end outcome_unknown');
    const stored = JSON.parse(action.result_json!) as { content: string; is_error: boolean };
    expect(stored.is_error).toBe(true);
    expect(stored.content).toMatch(/^Outcome unknown: /);
    expect(stored.content).toContain('may or may not have happened');
    expect(stored.content).toContain('Do not repeat it unless they confirm');
    expect(stored.content).not.toMatch(/not sent|could not connect/i);

    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.app.engine.idle();
    await h.delivered();
    const thread = h.threadTexts(run);
    const check = thread.find((t) => t.startsWith(':warning: *Please check:*'));
    expect(check).toContain("I can't tell whether \"Send email to sarah@acme.com, subject 'Q2'\" happened");
    expect(check).toContain('after the whole message had been sent to it');
    expect(check).toContain('I will not retry it automatically');
    // Nothing in the thread claims it failed or was not sent.
    expect(thread.join('\n')).not.toMatch(/not sent|could not connect| failed/i);
    await waitUntil(() => JSON.stringify(h!.slack.message(card!.channel, card!.ts)!.blocks).includes('Outcome unknown') || undefined, 'the card to say outcome unknown');
    expect(JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks)).not.toContain('approval_approve');

    // The model heard "outcome unknown" in the tool_result of exactly that call.
    const last = h.claude.requests.filter((r) => !r.rejected).at(-1)!.body;
    const results = last.messages.at(-1).content as Array<{ type: string; content: string; is_error?: boolean }>;
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ type: 'tool_result', is_error: true });
    expect(results[0]!.content).toMatch(/^Outcome unknown: .*may or may not have happened/);

    const activity = await h.app.db.selectFrom('activity').selectAll().where('action_id', '=', card!.actionId).execute();
    const row = activity.find((a) => a.kind === 'action_outcome_unknown');
    expect(row).toBeDefined();
    expect(JSON.parse(row!.detail_json)).toMatchObject({ tool: 'send_email', code: 'email_outcome_unknown' });
    expect(activity.some((a) => a.kind === 'action_failed' || a.kind === 'action_dispatched')).toBe(false);
    const log = await h.command(`log ${run.id}`);
    expect(JSON.stringify(log.json)).toContain('`send_email`: outcome unknown, not retried: the connection to the mail server was lost after the whole message had been sent to it');

    // The relay has the mail once; no second DATA, not even after a restart (recovery does not retry it).
    expect(h.smtp.mails).toHaveLength(1);
    expect(h.smtp.dataAttempts()).toBe(1);
    await h.restart();
    await h.app.engine.idle();
    await h.delivered();
    expect(h.smtp.dataAttempts()).toBe(1);
    expect((await h.app.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirstOrThrow()).status).toBe('outcome_unknown');
  }, 30_000);

  it('WhatsApp takes the request and the connection drops before any answer: outcome unknown, Please check, one request only', async () => {
    api = await startFaultyHttpServer('drop');
    h = await startHarness({ env: { WHATSAPP_TOKEN: 'EAAJtest', WHATSAPP_PHONE_NUMBER_ID: '1234567890', WHATSAPP_API_URL: `${api.url}/v21.0` } });
    h.claude.enqueue(toolUseReply([{ name: 'send_whatsapp', input: { to: '+15551234567', body: 'Your order shipped today.' } }]), textReply('Asked you to check.'));
    await h.command('run tell the customer their order shipped');
    const [card] = await h.waitForCards(1);
    expect(api.requests).toHaveLength(0);
    await h.click(card!, 'approve');

    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.app.engine.idle();
    await h.delivered();
    const action = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(action.status).toBe('outcome_unknown');
    const check = h.threadTexts(run).find((t) => t.startsWith(':warning: *Please check:*'));
    expect(check).toMatch(/I can't tell whether "Send WhatsApp message to \+15551234567" happened: the connection to WhatsApp was lost before its answer arrived \(.+\)\. I will not retry it automatically\./);
    expect(h.threadTexts(run).join('\n')).not.toMatch(/not sent| failed/i);
    expect(JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks)).toContain('Outcome unknown');
    const last = h.claude.requests.filter((r) => !r.rejected).at(-1)!.body;
    expect(JSON.stringify(last.messages.at(-1))).toContain('Outcome unknown: the connection to WhatsApp was lost');
    expect(api.requests).toHaveLength(1);
  }, 30_000);
});
