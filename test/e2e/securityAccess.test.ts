import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { blockActionPayload, postSigned, slashCommandBody, viewSubmissionPayload } from '../helpers/slackRequests.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { blockTexts } from '../helpers/slackText.js';
import type { FakeSlackMessage } from '../helpers/fakeSlack.js';

const ADMIN = 'U0ADMIN';
const OUTSIDER = 'U0OUT';
const PRIVATE = 'C0PRIVATE';
const PUBLIC = 'C0PUBLIC';
const GUEST = 'U0GUEST';
const SECRET = { to: 'secret@client.test', subject: 'Offer', body: 'Secret offer: 4.2M, confidential until Friday. '.repeat(80) };

type Card = Awaited<ReturnType<Harness['waitForCards']>>[number];

function form(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** A click from someone whose own workspace (`user.team_id`) is `orgId`, in the card's channel. */
function clickAs(h: Harness, msg: { channel: string; ts: string; message?: FakeSlackMessage }, actionId: string, value: string, userId: string, orgId: string) {
  const m = msg.message ?? h.slack.message(msg.channel, msg.ts);
  const payload = blockActionPayload({
    actionId,
    value,
    userId,
    channelId: msg.channel,
    messageTs: msg.ts,
    ...(m?.thread_ts ? { threadTs: m.thread_ts } : {}),
    responseUrl: h.slack.responseUrl({ channel: msg.channel, userId, messageTs: msg.ts }),
    ...(m ? { message: m } : {}),
  }) as { user: Record<string, unknown> };
  payload.user['team_id'] = orgId;
  return postSigned(h.baseUrl, form(payload), { secret: SIGNING_SECRET });
}

function everything(res: { json?: { text?: string; blocks?: unknown } }): string {
  return [res.json?.text ?? '', ...blockTexts(res.json?.blocks ?? [])].join('\n');
}

async function rejectedRunInPrivate(h: Harness): Promise<{ runId: string; card: Card }> {
  h.claude.enqueue(toolUseReply([{ name: 'send_email', input: SECRET }]));
  await h.command('run send the confidential offer', { channelId: PRIVATE });
  const [card] = await h.waitForCards(1);
  await h.submitReject(card!.actionId, 'too low; the amount is confidential');
  const run = await h.waitForRun((r) => r.status === 'cancelled');
  return { runId: run.id, card: card! };
}

describe('security: who sees a run (issue 9, finding 4)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('status, log, rerun and View full of a private run show nothing elsewhere; requesters and admins still can; a rerun elsewhere carries no rejected content', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    const { runId, card } = await rejectedRunInPrivate(h);
    const leaks = (text: string) => ['Secret offer', 'secret@client.test', 'confidential'].filter((s) => text.includes(s));

    for (const cmd of [`status ${runId}`, `log ${runId}`, `rerun ${runId} try again`]) {
      const res = await h.command(cmd, { userId: OUTSIDER, channelId: PUBLIC });
      const text = everything(res);
      expect(leaks(text)).toEqual([]);
      expect(text).toContain(`Run \`${runId}\` belongs to another channel: its details are shown in <#${PRIVATE}>`);
    }
    expect(await h.app.db.selectFrom('runs').select('id').execute()).toHaveLength(1);

    // In the run's own channel, or for an admin anywhere, the details are there.
    expect(leaks(everything(await h.command(`log ${runId}`, { userId: OUTSIDER, channelId: PRIVATE })))).toEqual(['confidential']);
    expect(everything(await h.command(`status ${runId}`, { userId: ADMIN, channelId: PUBLIC }))).toContain('send the confidential offer');

    // View full clicked from elsewhere by someone else: refused privately, no modal.
    const opened = h.slack.views.length;
    await h.click({ ...card, channel: PUBLIC }, 'view_full', OUTSIDER);
    await waitUntil(() => h.slack.ephemerals(OUTSIDER).find((e) => e.text.includes('full content is shown in the channel of its card or run')), 'the refusal');
    expect(h.slack.views.length).toBe(opened);

    // The requester reruns it in a public channel: the task comes along, the rejected email does not.
    h.claude.enqueue(textReply('Will do.'));
    await h.command(`rerun ${runId} shorter please`, { userId: REQUESTER, channelId: PUBLIC });
    const rerun = await h.waitForRun((r) => r.parent_run_id === runId && r.status === 'completed');
    expect(rerun.channel_id).toBe(PUBLIC);
    const request = JSON.stringify(h.claude.requests.at(-1)!.body.messages);
    expect(leaks(request.replace('send the confidential offer', ''))).toEqual([]);
    expect(request).toContain('in another channel');
    expect(request).toContain('shorter please');
    const publicTexts = h.slack.channelMessages(PUBLIC).flatMap((m) => [m.text, ...blockTexts(m.blocks), ...h.slack.threadReplies(PUBLIC, m.ts).map((r) => r.text)]);
    expect(leaks(publicTexts.join('\n').replace(/send the confidential offer/g, ''))).toEqual([]);

    // A rerun in the run's own channel still learns from the rejection.
    h.claude.enqueue(textReply('Understood.'));
    await h.command(`rerun ${runId}`, { userId: APPROVER, channelId: PRIVATE });
    await h.waitForRun((r) => r.parent_run_id === runId && r.channel_id === PRIVATE && r.status === 'completed');
    expect(JSON.stringify(h.claude.requests.at(-1)!.body.messages)).toContain('too low; the amount is confidential');
  });

  it('/agent schedules lists the channel\'s own schedules; admins see every channel\'s', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    const at = new Date().toISOString();
    const row = (id: string, channel: string, task: string) => ({ id, team_id: 'T_TEST', channel_id: channel, owner_id: APPROVER, cron: '30 8 * * 1-5', timezone: 'UTC', task, status: 'active', created_by_run_id: null, last_fired_minute: null, created_at: at, updated_at: at });
    await h.app.db.insertInto('schedules').values([row('s-priv001', PRIVATE, 'board salaries review'), row('s-publ001', PUBLIC, 'weekly newsletter')]).execute();
    const outsider = everything(await h.command('schedules', { userId: OUTSIDER, channelId: PUBLIC }));
    expect(outsider).toContain('weekly newsletter');
    expect(outsider).not.toContain('board salaries');
    expect(outsider).not.toContain('s-priv001');
    const admin = everything(await h.command('schedules', { userId: ADMIN, channelId: PUBLIC }));
    expect(admin).toContain('weekly newsletter');
    expect(admin).toContain('board salaries review');
  });
});

describe('security: only the run\'s organisation decides (issue 9, finding 5)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('Approve, Approve & remember, Reject and the reject dialog from another organisation change nothing, are answered privately and logged', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]), textReply('Sent.'));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    for (const button of ['approval_approve', 'approval_approve_remember', 'approval_reject']) {
      await clickAs(h, card!, button, card!.actionId, GUEST, 'T0OTHERCO');
    }
    await waitUntil(() => (h.slack.ephemerals(GUEST).filter((e) => e.text.includes('another organisation')).length === 3 ? true : undefined), 'three refusals');
    expect(h.slack.ephemerals(GUEST).map((e) => e.text)).toEqual(
      Array(3).fill(':no_entry: Only people of the workspace that started this run can decide on it; your account belongs to another organisation. Nothing was changed.'),
    );
    expect(h.slack.callsTo('views.open')).toHaveLength(0);

    // A forged dialog submission is checked on its own.
    const submission = viewSubmissionPayload({ callbackId: 'approval_reject_note', privateMetadata: JSON.stringify({ actionId: card!.actionId }), values: { reject_note: { note: { type: 'plain_text_input', value: 'no' } } }, userId: GUEST }) as { user: Record<string, unknown> };
    submission.user['team_id'] = 'T0OTHERCO';
    await postSigned(h.baseUrl, form(submission), { secret: SIGNING_SECRET });
    await waitUntil(() => h.slack.ephemerals(GUEST).find((e) => e.via === 'chat.postEphemeral'), 'the dialog refusal');

    const refused = await h.app.db.selectFrom('activity').selectAll().where('kind', '=', 'decision_refused').execute();
    expect(refused).toHaveLength(4);
    expect(refused.every((r) => r.actor === GUEST && JSON.parse(r.detail_json).org === 'T0OTHERCO')).toBe(true);
    expect((await h.app.db.selectFrom('actions').select('status').executeTakeFirstOrThrow()).status).toBe('pending');
    expect(h.smtp.dataAttempts()).toBe(0);

    // Someone of the workspace still decides normally.
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
  });

  it('Undo and run controls from another organisation change nothing', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN, RUN_COST_CAP_USD: '0.01' } });
    await h.command('trust create_subtask auto_notify', { userId: ADMIN });
    h.claude.enqueue(toolUseReply([{ name: 'create_subtask', input: { title: 'Collect numbers' } }], { usage: { input_tokens: 10_000, output_tokens: 100 } }));
    await h.command('run plan');
    const run = await h.waitForRun((r) => r.status === 'stopped');
    const notice = await waitUntil(() => h.threadReplies(run).find((m) => JSON.stringify(m.blocks ?? []).includes('notice_undo')), 'the notice');
    const undoValue = (notice.blocks as Array<{ elements?: Array<{ value?: string }> }>).flatMap((b) => b.elements ?? [])[0]!.value!;
    await clickAs(h, notice, 'notice_undo', undoValue, GUEST, 'T0OTHERCO');
    const capMessage = await waitUntil(() => h.threadReplies(run).find((m) => JSON.stringify(m.blocks ?? []).includes('run_raise_cap')), 'the cap message');
    await clickAs(h, capMessage, 'run_raise_cap', run.id, GUEST, 'T0OTHERCO');
    await waitUntil(() => (h.slack.ephemerals(GUEST).length === 2 ? true : undefined), 'two refusals');
    expect(h.slack.ephemerals(GUEST).every((e) => e.text.includes('another organisation'))).toBe(true);
    expect(JSON.parse((await h.run(run.id)).subtasks_json)).toHaveLength(1);
    expect((await h.run(run.id)).status).toBe('stopped');
    expect((await h.app.db.selectFrom('activity').select('kind').where('kind', '=', 'control_refused').execute())).toHaveLength(1);
  });

  it('Enterprise Grid: people of the same organisation (user.team_id is the E… id) decide; another organisation does not', async () => {
    h = await startHarness();
    // Slash commands of a Grid workspace carry its organisation id.
    const body = `${slashCommandBody({ text: 'status', userId: REQUESTER })}&enterprise_id=E0ACME`;
    expect((await postSigned(h.baseUrl, body, { secret: SIGNING_SECRET })).status).toBe(200);
    h.claude.enqueue(
      toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Hi', body: 'Hello' } }]),
      textReply('Sent.'),
    );
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    await clickAs(h, card!, 'approval_approve', card!.actionId, GUEST, 'E0OTHER');
    await waitUntil(() => h.slack.ephemerals(GUEST).find((e) => e.text.includes('another organisation')), 'the refusal');
    expect(h.smtp.dataAttempts()).toBe(0);
    await clickAs(h, card!, 'approval_approve', card!.actionId, 'W0COLLEAGUE', 'E0ACME');
    await h.smtp.waitForMail(1);
    expect((await h.app.db.selectFrom('actions').select('decided_by').executeTakeFirstOrThrow()).decided_by).toBe('W0COLLEAGUE');
  });
});
