import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';
import type { SignedResponse } from '../helpers/slackRequests.js';

const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };

/** Sends a request to the child app and kills it (SIGKILL) the moment Slack would have its answer. */
async function killRightAfterAck(child: ChildProcess, request: Promise<SignedResponse>): Promise<SignedResponse> {
  const exited = new Promise((r) => child.once('exit', r));
  const res = await request;
  child.kill('SIGKILL');
  await exited;
  return res;
}

describe('crashes right after Slack was acknowledged lose nothing (a real child process, kill -9)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('Approve: the click answered 200 is recorded; after the restart the email goes out once and the run completes', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Sent.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.delivered();

    const child = await h.spawnChild();
    const res = await killRightAfterAck(child, h.click(card!, 'approve'));
    expect(res.status).toBe(200);

    await h.restart();
    const action = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(['approved', 'dispatching', 'succeeded', 'outcome_unknown']).toContain(action.status);
    expect(action.decided_by).toBe('U_APPROVER');
    await h.waitForRun((r) => r.status === 'completed', 15_000);
    await h.delivered();
    // At most one send, and exactly one unless the kill landed inside the SMTP exchange (then a human checks).
    expect(h.smtp.dataAttempts()).toBeLessThanOrEqual(1);
    const final = await h.app.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    if (final.status === 'succeeded') expect(h.smtp.mails).toHaveLength(1);
    else expect(final.status).toBe('outcome_unknown');
  }, 120_000);

  it('Reject dialog: the submission answered 200 is recorded; after the restart the run is cancelled and the card says who rejected', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.delivered();

    const child = await h.spawnChild();
    const res = await killRightAfterAck(child, h.submitReject(card!.actionId, 'wrong numbers'));
    expect(res.status).toBe(200);

    await h.restart();
    const run = await h.waitForRun((r) => r.status === 'cancelled');
    await h.delivered();
    expect(JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks)).toContain('Rejected* by <@U_APPROVER>');
    const lines = h.threadTexts(run).filter((t) => t.startsWith(':no_entry:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('wrong numbers');
    expect(h.smtp.dataAttempts()).toBe(0);
  }, 120_000);

  it('/agent run: the command answered 200 is stored with its task message; after the restart the task message is posted once and the run completes', async () => {
    h = await startHarness();
    h.claude.enqueue(textReply('All done.'));
    const child = await h.spawnChild();
    const res = await killRightAfterAck(child, h.command('run summarise the week'));
    expect(res.status).toBe(200);
    const runId = /`(r-[a-z0-9]+)`/.exec(String(res.json?.text))?.[1];
    expect(runId).toBeTruthy();

    await h.restart();
    const run = await h.waitForRun((r) => r.id === runId && r.status === 'completed', 15_000);
    await h.delivered();
    const taskMessages = h.slack.channelMessages(run.channel_id).filter((m) => m.text.startsWith(`Task ${run.id} `));
    expect(taskMessages).toHaveLength(1);
    await waitUntil(() => h!.threadTexts(run).includes(finalText('All done.', run.requester_id)), 'final answer');
    expect(h.threadTexts(run).filter((t) => t === finalText('All done.', run.requester_id))).toHaveLength(1);
  }, 120_000);

  it('killed while a failed send is being reported: after the restart the card says it failed (the update was queued with the failure)', async () => {
    h = await startHarness({ smtp: { rejectRecipients: ['sarah@acme.com'] } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('It bounced.'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);
    await h.delivered();

    const child = await h.spawnChild();
    // Slack is slow: the card update reporting the failure is still on its way when the process dies.
    h.slack.setLatency(3000);
    await h.click(card!, 'approve');
    const probe = h.database.open();
    await waitUntil(async () => {
      const a = await probe.db.selectFrom('actions').select('status').where('id', '=', card!.actionId).executeTakeFirst();
      return a?.status === 'failed' ? true : undefined;
    }, 'the send to fail', 15_000);
    await probe.db.destroy();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    h.slack.setLatency(0);

    await h.restart();
    const action = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(action.status).toBe('failed');
    await h.delivered();
    const shown = JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks);
    expect(shown).toContain('but it failed');
    expect(shown).not.toContain('approval_approve');
  }, 120_000);
});
