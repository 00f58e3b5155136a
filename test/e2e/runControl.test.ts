import { afterEach, describe, expect, it } from 'vitest';
import { errorReply, textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';
import { blockAction } from '../helpers/slackRequests.js';
import type { Run } from '../../src/db/schema.js';

const ADMIN = 'U0ADMIN';
const expensive = { input_tokens: 10_000, output_tokens: 100 }; // Sonnet: $0.021 per call
const answered = (h: Harness) => h.claude.requests.filter((r) => !r.rejected);

function threadButton(h: Harness, run: Run, actionId: string) {
  return h.threadReplies(run).find((m) => JSON.stringify(m.blocks ?? []).includes(`"action_id":"${actionId}"`));
}

async function clickThreadButton(h: Harness, run: Run, actionId: string, userId: string) {
  const msg = await waitUntil(() => threadButton(h, run, actionId), `${actionId} button`);
  return blockAction(h.baseUrl, 'test-signing-secret', {
    actionId,
    value: run.id,
    userId,
    channelId: run.channel_id,
    messageTs: msg.ts,
    threadTs: msg.thread_ts!,
    responseUrl: h.slack.responseUrl({ channel: run.channel_id, userId, messageTs: msg.ts }),
    message: msg,
  });
}

describe('spend caps', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('the run cap stops the run before the next call, with the numbers; Raise cap and continue resumes it', async () => {
    h = await startHarness({ env: { RUN_COST_CAP_USD: '0.01' } });
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }], { usage: expensive }));
    await h.command('run summarise Q2');
    const run = await h.waitForRun((r) => r.status === 'stopped');
    expect(run.error_code).toBe('cap_reached');
    expect(answered(h)).toHaveLength(1);
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes('This run reached its spend cap: $0.0210 spent of $0.0100')), 'numbers in thread');
    await waitUntil(() => JSON.stringify(h.taskMessage(run)?.blocks ?? []).includes('stopped'), 'task message');

    h.claude.enqueue(textReply('Q2 grew 12%.'));
    await clickThreadButton(h, run, 'run_raise_cap', REQUESTER);
    const done = await h.waitForRun((r) => r.id === run.id && r.status === 'completed');
    expect(done.cost_cap_usd).toBeCloseTo(0.031, 6);
    expect(answered(h)).toHaveLength(2);
    expect((await h.app.db.selectFrom('actions').selectAll().execute()).filter((a) => a.status === 'succeeded')).toHaveLength(1);
  });

  it('the turn cap stops a looping run', async () => {
    h = await startHarness({ env: { RUN_MAX_TURNS: '2' } });
    h.claude.respond(() => toolUseReply([{ name: 'search_knowledge_base', input: { query: 'again' } }]));
    await h.command('run loop forever');
    const run = await h.waitForRun((r) => r.status === 'stopped');
    expect(run.turns).toBe(2);
    expect(answered(h)).toHaveLength(2);
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes('limit of 2 model turns')), 'turn cap message');
  });

  it("the user's daily cap stops their next run before any call; only an admin can raise it", async () => {
    h = await startHarness({ env: { USER_DAY_CAP_USD: '0.02', ADMIN_USER_IDS: ADMIN } });
    h.claude.enqueue(textReply('first', { usage: expensive }));
    await h.command('run first');
    await h.waitForRun((r) => r.status === 'completed');
    await h.command('run second');
    const stopped = await h.waitForRun((r) => r.status === 'stopped' && r.thread_ts !== null);
    expect(answered(h)).toHaveLength(1);
    await waitUntil(() => h.threadTexts(stopped).some((t) => t.includes("reached today's spend cap")), 'message');

    await clickThreadButton(h, stopped, 'run_raise_cap', REQUESTER);
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('only an admin can raise it')), 'refusal');
    h.claude.enqueue(textReply('second'));
    await clickThreadButton(h, stopped, 'run_raise_cap', ADMIN);
    await h.waitForRun((r) => r.id === stopped.id && r.status === 'completed');
    expect((await h.command('caps')).json.text).toContain('`user-day`: $0.0400');
  });

  it('/agent caps: anyone views, admins change, others are refused, bad values get usage', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    const view = await h.command('caps');
    expect(view.json.text).toContain('`run`: $0.5000 per run');
    expect(view.json.text).toContain('`turns`: 25');
    expect((await h.command('caps run 2', { userId: REQUESTER })).json.text).toContain('Only admins');
    expect((await h.command('caps run 2', { userId: ADMIN })).json.text).toContain('$0.5000 → *$2.00*');
    expect((await h.command('caps turns 2.5', { userId: ADMIN })).json.text).toContain('whole number');
    expect((await h.command('caps lunch 3', { userId: ADMIN })).json.text).toContain('is not a cap');
    expect((await h.command('caps run -1', { userId: ADMIN })).json.text).toContain('positive amount');
  });
});

describe('cancel, rerun, kill switch, concurrency', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('cancel during a model call: the answer is dropped, no card, no further call', async () => {
    h = await startHarness();
    h.claude.setLatency(400);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]));
    await h.command('run email A');
    const run = await h.waitForRun((r) => r.thread_ts !== null);
    await waitUntil(() => h.claude.requests.length >= 1 || undefined, 'model call in flight');
    expect((await h.command(`cancel ${run.id}`)).json.text).toContain('cancelled');
    await new Promise((r) => setTimeout(r, 600));
    await h.app.engine.idle();
    expect((await h.run(run.id)).status).toBe('cancelled');
    expect(h.cards()).toHaveLength(0);
    expect(await h.app.db.selectFrom('actions').selectAll().execute()).toHaveLength(0);
    expect(h.claude.requests).toHaveLength(1);
    // The spend of the dropped call is still counted.
    expect((await h.run(run.id)).spend_usd).toBeGreaterThan(0);
  });

  it('rerun carries the rejection note and the extra context, linked to its parent', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Deck', body: 'old deck' } }]));
    await h.command('run email A the deck');
    const [card] = await h.waitForCards(1);
    await h.submitReject(card!.actionId, 'Use the November deck', APPROVER);
    const parent = await h.waitForRun((r) => r.status === 'cancelled');

    h.claude.enqueue(textReply('ok'));
    const res = await h.command(`rerun ${parent.id} attach it as PDF`);
    expect(res.json.text).toContain(`a rerun of \`${parent.id}\``);
    const child = await h.waitForRun((r) => r.parent_run_id === parent.id && r.status === 'completed');
    const first = answered(h)[1]!.body.messages[0].content[0].text as string;
    expect(first).toContain('Task: email A the deck');
    expect(first).toContain('Use the November deck');
    expect(first).toContain('attach it as PDF');
    await waitUntil(() => (JSON.stringify(h.taskMessage(child)?.blocks) ?? "").includes(`rerun of \`${parent.id}\``), 'the rerun noted on the task message');
    const log = JSON.stringify((await h.command(`log ${child.id}`)).json);
    expect(log).toContain('started the run');
  });

  it('disable: no new runs, running runs stop at their next step, cards on hold; enable restores', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);

    h.claude.setLatency(300);
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'x' } }]));
    await h.command('run search something');
    await waitUntil(() => h.claude.requests.length >= 2 || undefined, 'second run in its model call');

    expect((await h.command('disable security review', { userId: REQUESTER })).json.text).toContain('Only admins');
    expect((await h.command('disable security review', { userId: ADMIN })).json.text).toContain('disabled');
    const refused = await h.command('run anything else');
    expect(refused.json.text).toContain('The agent is disabled in this workspace by <@U0ADMIN>: security review');

    const stopped = await h.waitForRun((r) => r.status === 'stopped');
    expect(stopped.error_code).toBe('agent_disabled');
    await waitUntil(() => JSON.stringify(h.slack.message(card!.channel, card!.ts)?.blocks).includes('The agent is disabled'), 'card on hold');
    await h.click(card!, 'approve');
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('The agent is disabled')), 'approval refused');
    expect(h.smtp.dataAttempts()).toBe(0);

    h.claude.setLatency(0);
    expect((await h.command('enable', { userId: ADMIN })).json.text).toContain('enabled');
    h.claude.enqueue(textReply('sent'));
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
    const kinds = (await h.app.db.selectFrom('activity').select('kind').execute()).map((k) => k.kind);
    expect(kinds).toEqual(expect.arrayContaining(['disabled', 'enabled']));
  });

  it('runs beyond the concurrency limit wait in FIFO order and say so on their task message', async () => {
    h = await startHarness({ env: { MAX_CONCURRENT_RUNS: '1' } });
    // The first run's model call lasts long enough for the second's task message to be posted while it
    // waits (posts are paced and rendered when sent: a short call let the second start before its post).
    h.claude.setLatency(4000);
    h.claude.respond((body) => textReply(`done: ${JSON.stringify(body.messages[0].content[0].text).slice(7, 20)}`));
    await h.command('run first task');
    await h.command('run second task');
    const second = await h.waitForRun((r) => r.task === 'second task' && r.thread_ts !== null);
    await waitUntil(() => JSON.stringify(h.slack.message(second.channel_id, second.thread_ts!)?.blocks).includes('queued (position 1)'), 'queued label');
    h.claude.setLatency(0);
    await waitUntil(async () => ((await h.app.db.selectFrom('runs').select('status').execute()).every((r) => r.status === 'completed') ? true : undefined), 'both complete');
    const starts = h.claude.requests.map((r) => r.body.messages[0].content[0].text as string);
    expect(starts[0]).toContain('first task');
    expect(starts[1]).toContain('second task');
    // The second call only started after the first answered: never two at once.
    expect(h.claude.requests[1]!.at - h.claude.requests[0]!.at).toBeGreaterThanOrEqual(250);
  });
});

describe('Claude and Slack failures', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('a 529 then success is absorbed by the SDK retry (bounded Retry-After)', async () => {
    h = await startHarness({ overrides: { anthropicMaxRetries: 1, anthropicMaxRetryAfterMs: 300 } });
    h.claude.enqueue(errorReply(529, { retryAfter: 3600 }), textReply('fine'));
    const started = Date.now();
    await h.command('run hello');
    await h.waitForRun((r) => r.status === 'completed');
    // A one-hour Retry-After was capped: the run did not wait an hour.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(h.claude.requests).toHaveLength(2);
  });

  it('529 forever: the run fails with a Retry button that resumes without re-running tools', async () => {
    h = await startHarness();
    // A slow Slack: the run fails before its task message is posted (as on a busy machine), and the
    // Retry button must still be found and work in the thread once the outbox has delivered it.
    h.slack.setLatency(400);
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), errorReply(529));
    await h.command('run find Q2');
    const failed = await h.waitForRun((r) => r.status === 'failed');
    expect(failed.error_code).toBe('model_call_failed');
    await waitUntil(() => h.threadTexts(failed).some((t) => t.includes('overloaded (529)')), 'failure message');

    h.claude.enqueue(textReply('Found it.'));
    await clickThreadButton(h, failed, 'run_retry', REQUESTER);
    const done = await h.waitForRun((r) => r.status === 'completed');
    await waitUntil(() => h.threadTexts(done).includes(finalText('Found it.')), 'answer');
    const searches = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'action_dispatched').execute();
    expect(searches).toHaveLength(1);
    // The retried call replays the stored conversation, including the tool result.
    expect(JSON.stringify(answered(h).at(-1)!.body.messages.at(-1))).toContain('tool_result');
  });

  it('not_in_channel on the task message: the run fails and the requester is told privately', async () => {
    h = await startHarness();
    h.slack.setChannel('C0PRIVATE', { is_member: false });
    const res = await h.command('run something', { channelId: 'C0PRIVATE' });
    expect(res.status).toBe(200);
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('I could not post in this channel')), 'private explanation');
    expect((await h.onlyRun()).status).toBe('failed');
    // The loop does not wait for Slack, so at most the first model call was made; nothing else happened.
    await h.app.engine.idle();
    expect(h.claude.requests.length).toBeLessThanOrEqual(1);
    expect(await h.app.db.selectFrom('actions').selectAll().execute()).toHaveLength(0);
    const failed = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'slack_delivery_failed').execute();
    expect(failed.map((f) => JSON.parse(f.detail_json).error)).toEqual(['not_in_channel']);
  });

  it('ratelimited and 500 on progress posts never kill the run', async () => {
    h = await startHarness();
    h.claude.setLatency(100);
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), textReply('Done anyway.'));
    await h.command('run find Q2');
    await h.waitForRun((r) => r.thread_ts !== null);
    h.slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    h.slack.failNext('chat.update', { status: 500 }, 3);
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(run.turns).toBe(2);
  });
});
