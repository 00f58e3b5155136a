import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const email = { to: 'sarah@acme.com', subject: 'Q2', body: 'Numbers attached.' };

describe('Reject, concurrent clicks and late clicks', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('Reject with a note: no mail, no further model call, card and thread updated, log shows who', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }], { text: 'Sending the numbers.' }), textReply('should never be asked'));
    await h.command('run email Sarah the numbers');
    const [card] = await h.waitForCards(1);

    const click = await h.click(card!, 'reject');
    expect(click.status).toBe(200);
    const opened = await h.slack.waitFor('views.open');
    expect(JSON.stringify(opened['view'])).toContain('approval_reject_note');

    const submit = await h.submitReject(card!.actionId, 'Wrong numbers, wait for finance');
    expect(submit.status).toBe(200);

    const run = await h.waitForRun((r) => r.status === 'cancelled');
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes(`<@${APPROVER}> rejected`)), 'rejection in thread');
    const thread = h.threadTexts(run).join('\n');
    expect(thread).toContain(`<@${APPROVER}> rejected "Send email to sarah@acme.com, subject 'Q2'"`);
    expect(thread).toContain('Wrong numbers, wait for finance');
    expect(thread).toContain(`/agent rerun ${run.id}`);

    // The card's own update is a separate outbox row from the thread line: wait for it, not for the line.
    const updated = await waitUntil(() => {
      const blocks = JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks);
      return blocks.includes('Rejected* by') ? blocks : undefined;
    }, 'card updated as rejected');
    expect(updated).not.toContain('approval_approve');
    expect(updated).toContain(`Rejected* by <@${APPROVER}>`);
    expect(updated).toContain('Wrong numbers, wait for finance');

    // Give a stray loop a chance to misbehave before asserting nothing else happened.
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(0);
    expect(h.claude.requests).toHaveLength(1);

    const log = JSON.stringify((await h.command(`log ${run.id}`)).json);
    expect(log).toContain(`<@${APPROVER}> rejected \`send_email\``);
    expect(log).toContain('Wrong numbers, wait for finance');

    // A late Approve on the rejected card changes nothing and is told privately who decided.
    await h.click(card!, 'approve', REQUESTER);
    const eph = await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('already rejected')), 'private answer');
    expect(eph.text).toContain(`<@${APPROVER}>`);
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(0);
  });

  it('two concurrent Approve clicks send exactly one email; the loser is told who approved', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Done.'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);

    const clicks = await Promise.all([
      h.click(card!, 'approve', APPROVER),
      h.click(card!, 'approve', REQUESTER),
      h.click(card!, 'approve', 'U_THIRD'),
      h.click(card!, 'approve', 'U_FOURTH'),
    ]);
    expect(clicks.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    await h.waitForRun((r) => r.status === 'completed');
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(1);

    const action = await h.app.db.selectFrom('actions').selectAll().where('tool', '=', 'send_email').executeTakeFirstOrThrow();
    const losers = ['U_APPROVER', 'U_REQ', 'U_THIRD', 'U_FOURTH'].filter((u) => u !== action.decided_by);
    await waitUntil(() => losers.every((u) => h.slack.ephemerals(u).some((e) => e.text.includes('already approved'))), 'private answers to the losers');
    const approvals = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'approved').execute();
    expect(approvals).toHaveLength(1);
  });

  it('the two cards of one turn approved at the same moment by two people: the run resumes once and sends both', async () => {
    // Each approval checks whether it was the turn's last; run side by side they must not both see the
    // other card still pending (then nobody would resume the run). Several rounds make a lost resume
    // likely to show if the check and the claim ever stop taking turns per run.
    for (let round = 0; round < 3; round++) {
      h.claude.enqueue(
        toolUseReply([
          { name: 'send_email', input: { to: 'a@acme.com', subject: `A${round}`, body: 'A' } },
          { name: 'send_email', input: { to: 'b@acme.com', subject: `B${round}`, body: 'B' } },
        ]),
        textReply(`Both sent (${round}).`),
      );
      await h.command(`run email A and B, round ${round}`);
      const cards = (await h.waitForCards(2 * (round + 1))).slice(-2);
      const clicks = await Promise.all([h.click(cards[0]!, 'approve', APPROVER), h.click(cards[1]!, 'approve', 'U_THIRD')]);
      expect(clicks.map((c) => c.status)).toEqual([200, 200]);
      await h.smtp.waitForMail(2 * (round + 1));
      await h.waitForRun((r) => r.status === 'completed' && r.task.endsWith(`round ${round}`));
    }
    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(6);
    const resumed = await h.app.db.selectFrom('run_messages').select('run_id').where('role', '=', 'user').execute();
    // Per run: the task, then exactly one message carrying both results.
    const perRun = new Map<string, number>();
    for (const m of resumed) perRun.set(m.run_id, (perRun.get(m.run_id) ?? 0) + 1);
    expect([...perRun.values()]).toEqual([2, 2, 2]);
  });

  it('a click with a bad signature or a stale timestamp is refused with 401 and changes nothing', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: email }]), textReply('Done.'));
    await h.command('run email Sarah');
    const [card] = await h.waitForCards(1);
    const { blockAction, slashCommand, postSigned, slashCommandBody } = await import('../helpers/slackRequests.js');

    const forged = await blockAction(h.baseUrl, 'not-the-secret', { actionId: 'approval_approve', value: card!.actionId, userId: APPROVER, channelId: card!.channel, messageTs: card!.ts });
    expect(forged.status).toBe(401);
    const stale = await slashCommand(h.baseUrl, 'test-signing-secret', { text: 'run something', timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const unsigned = await postSigned(h.baseUrl, slashCommandBody({ text: 'run x' }), { secret: 'test-signing-secret', signature: 'v0=deadbeef' });
    expect(unsigned.status).toBe(401);

    await h.app.engine.idle();
    expect(h.smtp.mails).toHaveLength(0);
    expect(await h.app.db.selectFrom('runs').select('id').execute()).toHaveLength(1);
    const action = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(action.status).toBe('pending');
  });
});
