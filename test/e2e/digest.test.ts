import { afterEach, describe, expect, it } from 'vitest';
import { toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, type Harness } from '../helpers/testApp.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';
import { localHourAndDate } from '../../src/agent/digest.js';

describe('daily digest of pending approvals', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
  });

  it('posts once per day at the digest hour to the approvals channel when the queue is long', async () => {
    let now = new Date('2026-11-23T08:30:00Z');
    h = await startHarness({
      env: { APPROVALS_CHANNEL: 'C0APPROVE', APPROVAL_QUEUE_WARN_AT: '1', ADMIN_USER_IDS: 'U0ADMIN' },
      overrides: { clock: { now: () => now } },
    });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Q2', body: 'x' } }]));
    await h.command('run email A');
    await h.waitForCards(1);

    expect(await h.app.runDigests()).toEqual([]); // 08:30 UTC: not the hour
    now = new Date('2026-11-23T09:00:05Z');
    expect(await h.app.runDigests()).toEqual(['T_TEST']);
    expect(await h.app.runDigests()).toEqual([]); // already posted today
    await h.app.slackDrained();
    const digest = h.slack.channelMessages('C0APPROVE').find((m) => m.text.includes('approvals are waiting'));
    expect(digest?.text).toContain("Send email to a@acme.com, subject 'Q2'");
    expect(digest?.text).toContain('1 approvals are waiting');

    // Admins move it to 08:00 Paris time (07:00 UTC in November); the next day it posts then.
    await h.command('trust digest 8 Europe/Paris', { userId: 'U0ADMIN' });
    now = new Date('2026-11-24T07:00:10Z');
    expect(await h.app.runDigests()).toEqual(['T_TEST']);
  });

  it.skipIf(TEST_ENGINE !== 'postgres')('two instances running the hourly job at the same moment post one digest', async () => {
    const now = new Date('2026-11-23T09:00:05Z');
    const clock = { now: () => now };
    h = await startHarness({ env: { APPROVALS_CHANNEL: 'C0APPROVE', APPROVAL_QUEUE_WARN_AT: '1' }, overrides: { clock } });
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'Q2', body: 'x' } }]));
    await h.command('run email A');
    await h.waitForCards(1);
    // A second instance on the same database (a separate pool: its transactions really run side by side).
    const other = await h.addApp();
    const posted = await Promise.all([h.app.runDigests(), other.runDigests(), h.app.runDigests(), other.runDigests()]);
    expect(posted.flat()).toEqual(['T_TEST']);
    await h.app.slackDrained();
    expect(h.slack.channelMessages('C0APPROVE').filter((m) => m.text.includes('approvals are waiting'))).toHaveLength(1);
  });

  it('computes the local hour in the workspace time zone', () => {
    expect(localHourAndDate(new Date('2026-11-23T23:30:00Z'), 'Asia/Tokyo')).toEqual({ hour: 8, date: '2026-11-24' });
    expect(localHourAndDate(new Date('2026-11-23T09:00:00Z'), undefined)).toEqual({ hour: 9, date: '2026-11-23' });
  });
});
