import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { assistantThreadStartedEvent } from '../helpers/slackRequests.js';
import { REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

describe('talking to the app in its DM', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  const answered = () => h.claude.requests.filter((r) => !r.rejected).map((r) => r.body);

  it('a message starts a run in the DM; a reply in its thread continues it; a new message starts another', async () => {
    h = await startHarness();
    const dm = h.slack.dmChannel(REQUESTER);
    h.claude.enqueue(textReply('Revenue grew 12% in Q2.'), textReply('In Q1 it grew 8%.'), textReply('Hello again.'));
    const first = await h.dm('how did Q2 go?');
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(run).toMatchObject({ channel_id: dm, thread_ts: first.ts, requester_id: REQUESTER, task: 'how did Q2 go?' });
    await h.delivered();
    let thread = h.slack.threadReplies(dm, first.ts);
    expect(thread[0]!.text).toMatch(new RegExp(`^Task ${run.id} `));
    expect(thread.map((m) => m.text)).toContain('Revenue grew 12% in Q2.');

    // In a DM any reply in the thread is the requester's: no mention needed.
    await h.dm('and Q1?', { threadTs: first.ts });
    await h.waitForRun((r) => r.id === run.id && r.turns === 2 && r.status === 'completed');
    await h.delivered();
    thread = h.slack.threadReplies(dm, first.ts);
    expect(thread.map((m) => m.text)).toContain('In Q1 it grew 8%.');
    expect(answered()[1].messages[2].content[0].text).toContain('and Q1?');

    const second = await h.dm('something new');
    const other = await h.waitForRun((r) => r.thread_ts === second.ts && r.status === 'completed');
    expect(other.id).not.toBe(run.id);
    expect(await h.app.db.selectFrom('runs').selectAll().execute()).toHaveLength(2);
    // Plain DMs (no AI surface) get no status calls.
    expect(h.slack.callsTo('assistant.threads.setStatus')).toHaveLength(0);
  });

  it('an approval in a DM run: the card is in the DM thread and a reply waits for the decision', async () => {
    h = await startHarness();
    const dm = h.slack.dmChannel(REQUESTER);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    const first = await h.dm('email A hello');
    const [card] = await h.waitForCards(1);
    expect(card!.channel).toBe(dm);
    expect(card!.message.thread_ts).toBe(first.ts);
    await h.dm('sign it from Alice', { threadTs: first.ts });
    await waitUntil(() => h.slack.threadReplies(dm, first.ts).find((m) => m.text.includes("I'll read it once the pending approval is decided")), 'queued');
    await h.click(card!, 'approve', REQUESTER);
    await h.waitForRun((r) => r.status === 'completed');
    expect(answered()[1].messages.at(-1).content.map((b: { type: string }) => b.type)).toEqual(['tool_result', 'text']);
  });

  it("on the app's AI surface: suggested prompts when a thread opens, and a status while the run works or waits", async () => {
    h = await startHarness();
    const dm = h.slack.dmChannel(REQUESTER);
    // Slack opens the thread with a message of its own; the person's messages are replies in it.
    const threadTs = h.slack.seedMessage({ channel: dm, user: h.slack.botUserId, text: 'New chat' });
    const opened = assistantThreadStartedEvent({ user: REQUESTER, channel: dm, threadTs });
    await h.event(opened, { eventId: 'EvOPEN1' });
    await h.event(opened, { eventId: 'EvOPEN1', retryNum: 1 });
    await waitUntil(() => h.slack.suggestedPrompts()[0], 'suggested prompts');
    await h.delivered();
    expect(h.slack.suggestedPrompts()).toHaveLength(1);
    expect(h.slack.suggestedPrompts()[0]).toMatchObject({ channel: dm, threadTs });
    expect(h.slack.suggestedPrompts()[0]!.prompts.length).toBeGreaterThan(0);

    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    await h.dm('email A hello', { threadTs });
    const [card] = await h.waitForCards(1);
    const run = await h.onlyRun();
    expect(run.thread_ts).toBe(threadTs);
    await waitUntil(() => h.slack.threadStatuses(dm, threadTs).find((s) => s.status === 'is waiting for approval…'), 'waiting status');
    expect(h.slack.threadStatuses(dm, threadTs)[0]!.status).toBe('is working on it…');

    await h.click(card!, 'approve', REQUESTER);
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    const statuses = h.slack.threadStatuses(dm, threadTs).map((s) => s.status);
    expect(statuses.at(-1)).toBe('');
    // A status never went out before the thread message it belongs after (Slack clears it on each post).
    const firstStatusAt = h.slack.calls.find((c) => c.method === 'assistant.threads.setStatus')!.at;
    const taskPostAt = h.slack.calls.find((c) => c.method === 'chat.postMessage' && c.ok && String(c.args['text']).startsWith(`Task ${run.id}`))!.at;
    expect(firstStatusAt).toBeGreaterThanOrEqual(taskPostAt);
  });
});

describe('over Socket Mode', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('a mention and a DM arrive as events_api envelopes and start runs the same way', async () => {
    h = await startHarness({ socketMode: true });
    await h.socket!.waitForConnection(1);
    h.claude.enqueue(textReply('From the channel.'), textReply('From the DM.'));
    const mention = await h.mention('summarise Q2');
    expect(mention.response.status).toBe(200);
    await h.waitForRun((r) => r.thread_ts === mention.ts && r.status === 'completed');
    const dm = await h.dm('and in a DM');
    await h.waitForRun((r) => r.thread_ts === dm.ts && r.status === 'completed');
    await h.delivered();
    expect(h.slack.threadReplies(h.slack.dmChannel(REQUESTER), dm.ts).map((m) => m.text)).toContain('From the DM.');
    expect(h.socket!.protocolErrors).toEqual([]);
  });
});
