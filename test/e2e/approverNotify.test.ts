import { afterEach, describe, expect, it } from 'vitest';
import { errorReply, textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, TASK_CHANNEL, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const EMAIL = { to: 'a@acme.com', subject: 'Hello', body: 'Hi there' };

async function harness(): Promise<Harness> {
  return startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
}

const posts = (h: Harness) => h.slack.callsTo('chat.postMessage');

describe('approvers hear about waiting cards', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("a card mentions the approver group (text and blocks); it is announced in the channel; the decided card's mention is gone", async () => {
    h = await harness();
    h.slack.addUserGroup('S0LEADS', ['U0LEAD']);
    await h.command('trust send_email approvers <!subteam^S0LEADS|@leads>', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]), textReply('Sent.'));
    await h.command('run email hello');
    const [card] = await h.waitForCards(1);
    // Slack notifies from the message text: the group's mention is there, and on the card itself.
    expect(card!.message.text).toContain('<!subteam^S0LEADS>');
    expect(JSON.stringify(card!.message.blocks)).toContain('Waiting for a decision from <!subteam^S0LEADS>');
    expect(card!.message.text).not.toContain(`<@${REQUESTER}>`);
    // A thread card is shown in the channel too, by the card's own post (no extra message).
    const cardPost = posts(h).find((p) => JSON.stringify(p['blocks'] ?? '').includes('approval_approve'));
    expect(cardPost?.['reply_broadcast']).toBe(true);
    expect(h.slack.channelMessages(TASK_CHANNEL).map((m) => m.ts)).toContain(card!.ts);

    await h.click(card!, 'approve', 'U0LEAD');
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    const updated = h.slack.message(card!.channel, card!.ts)!;
    expect(JSON.stringify(updated.blocks)).not.toContain('Waiting for a decision');
  });

  it('no approvers named: the requester is mentioned; an admin turns mentions off per action type and the thread announcement off', async () => {
    h = await harness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]), textReply('Sent.'));
    await h.command('run email one');
    const [first] = await h.waitForCards(1);
    expect(first!.message.text).toContain(`(<@${REQUESTER}>)`);
    await h.click(first!, 'approve', APPROVER);
    await h.waitForRun((r) => r.status === 'completed');

    expect((await h.command('trust send_email mentions off', { userId: REQUESTER })).json.text).toContain('Only admins');
    expect((await h.command('trust send_email mentions off', { userId: ADMIN })).json.text).toContain('no longer mention anyone');
    expect((await h.command('trust announce off', { userId: ADMIN })).json.text).toContain('stay in the thread');
    const table = JSON.stringify((await h.command('trust')).json);
    expect(table).toContain('kept in the thread');
    expect(table).toContain('Cards that mention nobody: `send_email`');

    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { ...EMAIL, subject: 'Two' } }]), textReply('Sent again.'));
    await h.command('run email two');
    const cards = await h.waitForCards(2);
    const second = cards.find((c) => c.actionId !== first!.actionId)!;
    expect(second.message.text).not.toContain('<@');
    expect(JSON.stringify(second.message.blocks)).not.toContain('Waiting for a decision');
    const secondPost = posts(h).filter((p) => JSON.stringify(p['blocks'] ?? '').includes('approval_approve')).at(-1);
    expect(secondPost?.['reply_broadcast']).toBeUndefined();
    expect(h.slack.channelMessages(TASK_CHANNEL).map((m) => m.ts)).not.toContain(second.ts);
    const log = await h.app.db.selectFrom('activity').selectAll().where('kind', 'in', ['card_mentions_changed', 'announce_cards_changed']).orderBy('id').execute();
    expect(log.map((l) => [l.kind, JSON.parse(l.detail_json)])).toEqual([
      ['card_mentions_changed', { actionType: 'send_email', before: true, after: false }],
      ['announce_cards_changed', { before: true, after: false }],
    ]);
  });

  it('the requester is mentioned when someone else rejects or cancels their run, not when they cancel it themselves', async () => {
    h = await harness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]));
    await h.command('run email one');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'reject', APPROVER);
    await h.submitReject(card!.actionId, 'not now', APPROVER);
    const rejected = await h.waitForRun((r) => r.status === 'cancelled');
    await h.delivered();
    const line = await waitUntil(() => h.threadTexts(rejected).find((t) => t.startsWith(':no_entry: ')), 'rejection line');
    expect(line).toContain(`<@${REQUESTER}> <@${APPROVER}> rejected`);

    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { ...EMAIL, subject: 'Two' } }]));
    await h.command('run email two');
    await h.waitForCards(2);
    const second = await h.waitForRun((r) => r.id !== rejected.id && r.status === 'awaiting_approval');
    await h.command(`cancel ${second.id}`, { userId: ADMIN });
    await h.waitForRun((r) => r.id === second.id && r.status === 'cancelled');
    await h.delivered();
    const cancelLine = h.threadTexts(second).find((t) => t.includes('cancelled this run'));
    expect(cancelLine).toContain(`<@${ADMIN}> cancelled this run. Nothing further will be done. <@${REQUESTER}>`);

    // The requester who cancels their own run is not pinged about it.
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { ...EMAIL, subject: 'Three' } }]));
    await h.command('run email three');
    await h.waitForCards(3);
    const third = await h.waitForRun((r) => r.id !== rejected.id && r.id !== second.id && r.status === 'awaiting_approval');
    await h.command(`cancel ${third.id}`);
    await h.waitForRun((r) => r.id === third.id && r.status === 'cancelled');
    await h.delivered();
    expect(h.threadTexts(third).find((t) => t.includes('cancelled this run'))).toBe(`:no_entry_sign: <@${REQUESTER}> cancelled this run. Nothing further will be done.`);
  });

  it('the requester is mentioned under the answer of a run that ends; not in a DM, where the answer alone notifies them', async () => {
    h = await harness();
    h.claude.enqueue(textReply('Q2 revenue grew 12%.'));
    await h.command('run summarise Q2');
    const done = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(h.threadTexts(done).at(-1)).toBe(`Q2 revenue grew 12%.\n\n:white_check_mark: <@${REQUESTER}> this run is complete.`);
    // Slack notifies from the text: the mention is live, built from the stored id (not from the model's text).
    const answer = h.slack.callsTo('chat.postMessage').find((args) => String(args['text']).startsWith('Q2 revenue grew 12%.'));
    expect(answer?.['text']).toContain(`<@${REQUESTER}>`);

    h.claude.enqueue(textReply('From the DM.'));
    const dm = await h.dm('summarise Q1');
    await h.waitForRun((r) => r.id !== done.id && r.status === 'completed');
    await h.delivered();
    const dmTexts = h.slack.threadReplies(h.slack.dmChannel(REQUESTER), dm.ts).map((m) => m.text);
    expect(dmTexts).toContain('From the DM.');
    expect(dmTexts.join('\n')).not.toContain('<@');
  });

  it('the requester is mentioned on the line that says their run stopped (a spend cap)', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN, RUN_COST_CAP_USD: '0.01' } });
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }], { usage: { input_tokens: 10_000, output_tokens: 100 } }));
    await h.command('run summarise Q2');
    const stopped = await h.waitForRun((r) => r.status === 'stopped');
    expect(stopped.error_code).toBe('cap_reached');
    const line = await waitUntil(() => h.threadTexts(stopped).find((t) => t.includes('spend cap')), 'the cap line');
    expect(line.startsWith(`:octagonal_sign: <@${REQUESTER}> `)).toBe(true);
  });

  it('the requester is mentioned on the line that says their run failed', async () => {
    h = await harness();
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), errorReply(529));
    await h.command('run find Q2');
    const failed = await h.waitForRun((r) => r.status === 'failed');
    const line = await waitUntil(() => h.threadTexts(failed).find((t) => t.includes('overloaded (529)')), 'failure message');
    expect(line.startsWith(`:x: <@${REQUESTER}> `)).toBe(true);
  });
});
