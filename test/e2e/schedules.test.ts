import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { APPROVER, REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { blockAction } from '../helpers/slackRequests.js';

const ADMIN = 'U0ADMIN';

describe('scheduled runs', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('created through approval, fires on the clock as the approver, never twice for a minute (even after a restart), pause/resume/delete', async () => {
    let now = new Date('2026-11-21T12:00:00Z'); // Saturday
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN }, overrides: { clock: { now: () => now } } });
    h.claude.enqueue(
      toolUseReply([{ name: 'schedule_run', input: { cron: '0 9 * * 1', task: 'summarise open deals', timezone: 'Europe/Paris' } }], { text: 'Setting up the weekly summary.' }),
      textReply('Scheduled.'),
    );
    await h.command('run every Monday 9:00 summarise open deals');
    const [card] = await h.waitForCards(1);
    const cardText = JSON.stringify(card!.message.blocks);
    expect(cardText).toContain('every Monday at 09:00 (Europe/Paris)');
    expect(cardText).toContain('Mon, 23 Nov 2026, 09:00 Europe/Paris; Mon, 30 Nov 2026');
    
    expect(cardText).toContain('Mon, 7 Dec 2026');
    expect(await h.app.db.selectFrom('schedules').selectAll().execute()).toHaveLength(0);

    await h.click(card!, 'approve', APPROVER);
    await h.waitForRun((r) => r.status === 'completed');
    const [schedule] = await h.app.db.selectFrom('schedules').selectAll().execute();
    expect(schedule).toMatchObject({ owner_id: APPROVER, channel_id: 'C_TASKS', status: 'active', timezone: 'Europe/Paris' });

    // Monday 09:00 Paris = 08:00 UTC.
    now = new Date('2026-11-23T08:00:20Z');
    h.claude.enqueue(textReply('Open deals: 3.'));
    const fired = await h.app.tickSchedules();
    expect(fired).toHaveLength(1);
    const scheduled = await h.waitForRun((r) => r.id === fired[0] && r.status === 'completed');
    expect(scheduled.requester_id).toBe(APPROVER);
    expect(scheduled.task).toBe('summarise open deals');
    expect(await h.app.tickSchedules(new Date('2026-11-23T08:00:50Z'))).toEqual([]);
    await h.restart();
    expect(await h.app.tickSchedules(new Date('2026-11-23T08:00:55Z'))).toEqual([]);
    expect(await h.app.tickSchedules(new Date('2026-11-23T08:01:00Z'))).toEqual([]); // not a matching minute

    // Pause (auto_notify: runs at once, notifies, Undo-able), then no firing; resume; delete needs approval.
    h.claude.enqueue(toolUseReply([{ name: 'pause_schedule', input: { schedule_id: schedule!.id } }]), textReply('Paused.'));
    await h.command('run pause the weekly summary');
    await h.waitForRun((r) => r.task === 'pause the weekly summary' && r.status === 'completed');
    expect((await h.app.db.selectFrom('schedules').select('status').executeTakeFirstOrThrow()).status).toBe('paused');
    expect(await h.app.tickSchedules(new Date('2026-11-30T08:00:00Z'))).toEqual([]);

    h.claude.enqueue(toolUseReply([{ name: 'resume_schedule', input: { schedule_id: schedule!.id } }]), textReply('Resumed.'));
    await h.command('run resume it');
    await h.waitForRun((r) => r.task === 'resume it' && r.status === 'completed');
    expect((await h.app.db.selectFrom('schedules').select('status').executeTakeFirstOrThrow()).status).toBe('active');

    h.claude.enqueue(toolUseReply([{ name: 'delete_schedule', input: { schedule_id: schedule!.id } }]), textReply('Deleted.'));
    await h.command('run delete it');
    const cards = await h.waitForCards(2);
    expect(JSON.stringify(cards[1]!.message.blocks)).toContain(`Delete schedule ${schedule!.id}`);
    await h.click(cards[1]!, 'approve', APPROVER);
    await h.waitForRun((r) => r.task === 'delete it' && r.status === 'completed');
    expect((await h.app.db.selectFrom('schedules').select('status').executeTakeFirstOrThrow()).status).toBe('deleted');
  });

  it('an invalid cron expression is refused with the reason and never reaches a card', async () => {
    h = await startHarness();
    h.claude.enqueue(toolUseReply([{ name: 'schedule_run', input: { cron: '0 25 * * *', task: 'x' } }]), textReply('That time does not exist.'));
    await h.command('run schedule at 25:00');
    await h.waitForRun((r) => r.status === 'completed');
    const result = h.claude.requests[1]!.body.messages.at(-1).content[0];
    expect(result.is_error).toBe(true);
    expect(result.content).toContain('hour 25 is outside 0-23');
    expect(h.cards()).toHaveLength(0);
  });

  it('/agent schedules lists them; only admins can pause or delete from the list', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN } });
    const at = new Date().toISOString();
    await h.app.db
      .insertInto('schedules')
      .values({ id: 's-abc1234', team_id: 'T_TEST', channel_id: 'C_TASKS', owner_id: APPROVER, cron: '30 8 * * 1-5', timezone: 'UTC', task: 'daily standup notes', status: 'active', created_by_run_id: null, last_fired_minute: null, created_at: at, updated_at: at })
      .execute();
    const list = await h.command('schedules');
    const text = JSON.stringify(list.json);
    expect(text).toContain('every weekday at 08:30 (UTC)');
    expect(text).toContain('daily standup notes');

    const click = (userId: string, actionId: string) =>
      blockAction(h.baseUrl, 'test-signing-secret', { actionId, value: 's-abc1234', userId, channelId: 'C_TASKS', messageTs: '1.000', responseUrl: h.slack.responseUrl({ channel: 'C_TASKS', userId }) });
    await click(REQUESTER, 'schedule_pause');
    await waitUntil(() => h.slack.ephemerals(REQUESTER).find((e) => e.text.includes('Only admins can change schedules')), 'refusal');
    expect((await h.app.db.selectFrom('schedules').select('status').executeTakeFirstOrThrow()).status).toBe('active');
    await click(ADMIN, 'schedule_pause');
    await waitUntil(async () => ((await h.app.db.selectFrom('schedules').select('status').executeTakeFirstOrThrow()).status === 'paused' ? true : undefined), 'paused');
    await click(ADMIN, 'schedule_delete');
    await waitUntil(async () => ((await h.app.db.selectFrom('schedules').select('status').executeTakeFirstOrThrow()).status === 'deleted' ? true : undefined), 'deleted');
    // The log entry is written just after the status: wait for it rather than racing it.
    const log = await waitUntil(async () => {
      const rows = await h.app.db.selectFrom('activity').selectAll().where('kind', 'in', ['schedule_paused', 'schedule_deleted']).orderBy('id').execute();
      return rows.length >= 2 ? rows : undefined;
    }, 'both schedule changes logged');
    expect(log.map((l) => [l.kind, l.actor])).toEqual([['schedule_paused', ADMIN], ['schedule_deleted', ADMIN]]);
  });
});
