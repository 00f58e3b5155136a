import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { callHash } from '../../src/agent/hash.js';
import { viewSubmission } from '../helpers/slackRequests.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const EMAIL = { to: 'sarah@acme.com', subject: 'Invoice for Mrach', body: 'Hi Sarah,\n\nPlease find the invoice attached.' };

/** The Edit dialog the app opened, and a way to submit it with some fields changed. */
async function openEdit(h: Harness, card: Awaited<ReturnType<Harness['waitForCards']>>[number], userId = APPROVER) {
  const before = h.slack.callsTo('views.open').length;
  await h.click(card, 'edit', userId);
  await waitUntil(() => h.slack.callsTo('views.open').length > before, 'the edit dialog');
  const view = h.slack.callsTo('views.open').at(-1)!['view'] as { callback_id: string; private_metadata: string; blocks: Array<{ block_id?: string; element?: { initial_value?: string } }> };
  const initial = Object.fromEntries(view.blocks.filter((b) => b.element).map((b) => [b.block_id!, b.element!.initial_value ?? '']));
  const submit = (changes: Record<string, string>, by = userId) =>
    viewSubmission(h.baseUrl, SIGNING_SECRET, {
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: Object.fromEntries(Object.entries({ ...initial, ...changes }).map(([k, v]) => [k, { value: { type: 'plain_text_input', value: v } }])),
      userId: by,
    });
  return { view, initial, submit };
}

describe('Edit & approve', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('the dialog is pre-filled; schema errors show inline and change nothing; the edited email is what is sent; card, model and log say so', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]), textReply('Sent.'));
    await h.command('run send the invoice');
    const [card] = await h.waitForCards(1);
    expect(JSON.stringify(card!.message.blocks)).toContain('"action_id":"approval_edit"');
    const { initial, submit } = await openEdit(h, card!);
    expect(initial).toEqual({ to: 'sarah@acme.com', cc: '', subject: 'Invoice for Mrach', body: EMAIL.body });

    const bad = await submit({ to: 'not an address', subject: 'Two\nlines' });
    expect(bad.json.response_action).toBe('errors');
    expect(Object.keys(bad.json.errors).sort()).toEqual(['subject', 'to']);
    const untouched = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect([untouched.status, JSON.parse(untouched.input_json)]).toEqual(['pending', EMAIL]);

    const ok = await submit({ subject: 'Invoice for March', cc: 'billing@acme.com' });
    expect(ok.json?.response_action).toBeUndefined();
    // Stored before Slack was answered.
    const approved = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(approved.decided_by).toBe(APPROVER);
    expect(approved.approved_hash).toBe(approved.input_hash);

    const [mail] = await h.smtp.waitForMail(1);
    expect(mail!.headers.subject).toBe('Invoice for March');
    expect(mail!.headers.cc).toContain('billing@acme.com');
    expect(mail!.envelopeTo.sort()).toEqual(['billing@acme.com', 'sarah@acme.com']);
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();

    const shown = JSON.stringify(h.slack.message(card!.channel, card!.ts)!.blocks);
    expect(shown).toContain(`*Edited* by <@${APPROVER}> before approving`);
    expect(shown).toContain('Subject: Invoice for Mrach → Invoice for March');
    expect(shown).toContain('Cc: (empty) → billing@acme.com');

    const second = h.claude.requests.filter((r) => !r.rejected)[1]!.body;
    const result = JSON.stringify(second.messages.at(-1));
    expect(result).toContain('A human approver (Slack user U_APPROVER) edited this call before approving it');
    expect(result).toContain('Subject: \\"Invoice for Mrach\\" → \\"Invoice for March\\"');

    const log = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'action_edited').execute();
    expect(log).toHaveLength(1);
    const detail = JSON.parse(log[0]!.detail_json);
    expect(detail.before).toEqual(EMAIL);
    expect(detail.after).toEqual({ ...EMAIL, subject: 'Invoice for March', cc: ['billing@acme.com'] });
    expect(log[0]!.run_id).toBe(run.id);
  });

  it('someone who may not approve cannot edit: the button is refused privately and a forged submission changes nothing', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    await h.command(`trust send_email approvers <@${ADMIN}|ada>`, { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]), textReply('Sent.'));
    await h.command('run send the invoice');
    const [card] = await h.waitForCards(1);
    await h.click(card!, 'edit', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes(`Only <@${ADMIN}>`)), 'private refusal');
    expect(h.slack.callsTo('views.open')).toHaveLength(0);

    // The admin opens the dialog; someone else submits it (as a forged payload would).
    const { submit } = await openEdit(h, card!, ADMIN);
    const forged = await submit({ to: 'mallory@evil.test' }, APPROVER);
    expect(forged.json.response_action).toBe('errors');
    expect(JSON.stringify(forged.json.errors)).toContain('Nothing was changed');
    const row = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect([row.status, JSON.parse(row.input_json).to]).toEqual(['pending', 'sarah@acme.com']);
    expect(h.smtp.mails).toHaveLength(0);
  });

  it('a stale dialog, submitted after someone else decided, changes nothing and says who decided', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]), textReply('Sent.'));
    await h.command('run send the invoice');
    const [card] = await h.waitForCards(1);
    const { submit } = await openEdit(h, card!);
    await h.click(card!, 'approve', REQUESTER);
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
    const stale = await submit({ to: 'someone-else@acme.com' });
    expect(stale.json.response_action).toBe('errors');
    expect(JSON.stringify(stale.json.errors)).toContain('Your edit was not applied');
    expect(h.smtp.mails).toHaveLength(1);
    expect(h.smtp.mails[0]!.envelopeTo).toEqual(['sarah@acme.com']);
    expect(await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'action_edited').execute()).toHaveLength(0);
  });

  it('a card of a tool without editable arguments has no Edit button; an Edit click on it changes nothing', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    await h.command('pause review', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]), textReply('Found it.'));
    await h.command('run find Q2');
    const [card] = await h.waitForCards(1);
    expect(JSON.stringify(card!.message.blocks)).not.toContain('approval_edit');
    await h.click(card!, 'edit', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('cannot be edited')), 'private answer');
    expect(h.slack.callsTo('views.open')).toHaveLength(0);
    const row = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect(row.status).toBe('pending');
  });

  it('a schedule: an impossible cron is refused inline by the tool itself; the edited cron and task are what is created', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'schedule_run', input: { cron: '0 9 * * 1', task: 'summarise open deals', timezone: 'Europe/Paris' } }]), textReply('Scheduled.'));
    await h.command('run every monday');
    const [card] = await h.waitForCards(1);
    const { initial, submit } = await openEdit(h, card!);
    expect(initial).toEqual({ cron: '0 9 * * 1', task: 'summarise open deals' });
    const bad = await submit({ cron: '0 25 * * *' });
    expect(bad.json.response_action).toBe('errors');
    expect(Object.keys(bad.json.errors)).toEqual(['cron']);
    expect(await h.app.db.selectFrom('schedules').selectAll().execute()).toHaveLength(0);
    const ok = await submit({ cron: '30 8 * * 2', task: 'summarise won deals' });
    expect(ok.json?.response_action).toBeUndefined();
    await h.waitForRun((r) => r.status === 'completed');
    const rows = await h.app.db.selectFrom('schedules').selectAll().execute();
    expect(rows.map((r) => [r.cron, r.task, r.timezone, r.owner_id])).toEqual([['30 8 * * 2', 'summarise won deals', 'Europe/Paris', APPROVER]]);
  });
  it('one approver: an Approve click on a card showing an older version of the call approves nothing', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: EMAIL }]), textReply('Sent.'));
    await h.command('run send the invoice');
    const [card] = await h.waitForCards(1);
    // The stored call changes after the card was rendered (as an edit does), without the card being
    // updated yet: the click names the hash the card showed.
    const row = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    const changedJson = JSON.stringify({ ...EMAIL, to: 'someone.else@example.com' });
    await h.app.db
      .updateTable('actions')
      .set({ input_json: changedJson, input_hash: callHash(row.tool, changedJson, row.prepared_json) })
      .where('id', '=', card!.actionId)
      .execute();

    await h.click(card!, 'approve', APPROVER);
    await waitUntil(() => h.slack.ephemerals(APPROVER).find((e) => e.text.includes('edited since it was shown to you')), 'the stale approval refused');
    await h.app.engine.idle();
    const after = await h.app.db.selectFrom('actions').selectAll().where('id', '=', card!.actionId).executeTakeFirstOrThrow();
    expect([after.status, after.decided_by, after.approved_hash]).toEqual(['pending', null, null]);
    expect(h.smtp.mails).toHaveLength(0);
    expect(h.claude.requests).toHaveLength(1);
  });
});
