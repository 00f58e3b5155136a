import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

describe('task tools and sender identity', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('create_subtask and set_task_status re-render the task message (checklist and status line)', async () => {
    h = await startHarness();
    h.claude.enqueue(
      toolUseReply([
        { name: 'create_subtask', input: { title: 'Collect Q2 numbers' } },
        { name: 'create_subtask', input: { title: 'Draft the summary' } },
        { name: 'set_task_status', input: { status: 'blocked' } },
      ]),
      textReply('Planned.'),
    );
    await h.command('run plan the Q2 summary');
    const run = await h.waitForRun((r) => r.status === 'completed');
    await waitUntil(() => {
      const t = JSON.stringify(h.taskMessage(run)?.blocks ?? []);
      return t.includes('Collect Q2 numbers') && t.includes('Draft the summary') && t.includes('Task status:* blocked') ? true : undefined;
    }, 'task message re-rendered');
    expect(JSON.parse(run.subtasks_json)).toHaveLength(2);
  });

  it('EMAIL_SENDER_MODE=shared: the card says the mail goes out as EMAIL_FROM, and it does', async () => {
    h = await startHarness({ env: { EMAIL_SENDER_MODE: 'shared', EMAIL_FROM: 'Acme Team <team@acme.com>' } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    expect(JSON.stringify(card!.message.blocks)).toContain('Sent as:* Acme Team &lt;team@acme.com&gt;');
    await h.click(card!, 'approve');
    const [mail] = await h.smtp.waitForMail(1);
    expect(mail!.headers.from).toBe('Acme Team <team@acme.com>');
  });
});
