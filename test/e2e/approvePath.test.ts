import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, TASK_CHANNEL, waitUntil, type Harness } from '../helpers/testApp.js';

const email = { to: 'sarah@acme.com', subject: 'Re: Q2 report', body: 'Hi Sarah,\n\nRevenue grew 12% in Q2.\n\nAlice' };

describe('/agent run -> card -> Approve -> email sent exactly once', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('runs low-risk tools on their own, waits on a card for the email, sends it on Approve and finishes', async () => {
    h.claude.enqueue(
      toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2 revenue' } }], { thinking: 'Look up Q2 first.', text: 'Let me find the Q2 numbers.' }),
      toolUseReply([{ name: 'send_email', input: email }], { thinking: '', text: 'I will email Sarah the summary.' }),
      textReply('Emailed Sarah the Q2 summary.'),
    );

    const res = await h.command('run email Sarah the Q2 summary');
    expect(res.status).toBe(200);
    expect(res.json?.text).toMatch(/Starting run `r-[a-z0-9]{6,}`/);

    const [card] = await h.waitForCards(1);
    // The card is posted just before the run is marked waiting: wait for the mark, do not race it.
    const run = await h.waitForRun((r) => r.status === 'awaiting_approval');
    expect((await h.onlyRun()).id).toBe(run.id);
    expect(run.thread_ts).toBeTruthy();

    // The task message is in the channel, with the task, the requester and the run id.
    const task = h.slack.message(TASK_CHANNEL, run.thread_ts!);
    expect(JSON.stringify(task?.blocks)).toContain('email Sarah the Q2 summary');
    expect(JSON.stringify(task?.blocks)).toContain(run.id);
    expect(JSON.stringify(task?.blocks)).toContain(`<@${REQUESTER}>`);

    // The knowledge-base search ran on its own and is listed on the task message (not as a thread line);
    // the email did not go out.
    await waitUntil(() => (JSON.stringify(h.taskMessage(run)?.blocks) ?? '').includes('Search the knowledge base'), 'the step on the task message');
    expect(h.threadTexts(run).some((t) => t.includes('Search the knowledge base'))).toBe(false);
    expect(h.smtp.mails).toHaveLength(0);

    // The card is in the task thread and says what, why, the exact content, run id, requester and spend.
    const cardText = JSON.stringify(card!.message.blocks);
    expect(card!.message.thread_ts).toBe(run.thread_ts);
    expect(cardText).toContain("Send email to sarah@acme.com, subject 'Re: Q2 report'");
    expect(cardText).toContain('I will email Sarah the summary.');
    expect(cardText).toContain('Revenue grew 12% in Q2.');
    expect(cardText).toContain(run.id);
    expect(cardText).toContain('Alice Doe');
    expect(cardText).toMatch(/spend so far \$0\.\d+/);
    expect(cardText).toContain('"text":"Approve"');
    expect(cardText).toContain('"text":"Reject"');

    const click = await h.click(card!, 'approve');
    expect(click.status).toBe(200);

    const [mail] = await h.smtp.waitForMail(1);
    expect(mail!.headers.from).toBe('Alice Doe <alice@acme.com>');
    expect(mail!.headers.to).toBe('sarah@acme.com');
    expect(mail!.headers.subject).toBe('Re: Q2 report');
    expect(mail!.text.trim()).toBe(email.body);

    const done = await h.waitForRun((r) => r.status === 'completed');
    expect(done.turns).toBe(3);
    await waitUntil(() => h.threadTexts(done).some((t) => t.includes('Emailed Sarah the Q2 summary.')), 'final answer in thread');

    // The card was updated in place: no buttons, who approved.
    const updated = h.slack.message(card!.channel, card!.ts)!;
    const updatedText = JSON.stringify(updated.blocks);
    expect(updatedText).not.toContain('approval_approve');
    expect(updatedText).toContain(`Approved* by <@${APPROVER}>`);

    // Claude got the tool result for exactly the tool_use it asked for, thinking blocks replayed verbatim.
    const third = h.claude.requests.filter((r) => !r.rejected)[2]!.body;
    const toolUse = third.messages[3].content.find((b: { type: string }) => b.type === 'tool_use');
    const results = third.messages[4].content;
    // The request's last block carries the prompt-cache breakpoint (added to the request only, never stored).
    expect(results).toEqual([{ type: 'tool_result', tool_use_id: toolUse.id, content: expect.stringContaining('Email sent to sarah@acme.com'), cache_control: { type: 'ephemeral' } }]);
    expect(h.claude.requests.every((r) => !r.rejected)).toBe(true);

    // The activity log records who approved.
    const log = await h.command(`log ${run.id}`);
    expect(JSON.stringify(log.json)).toContain(`<@${APPROVER}> approved \`send_email\``);
    expect(h.smtp.mails).toHaveLength(1);
  });
});
