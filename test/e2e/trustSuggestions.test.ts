import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connection.js';
import { verifyActivityChain } from '../../src/db/repos/activityVerify.js';
import { decided, seedRun } from '../helpers/decisionHistory.js';
import type { FakeSlackMessage } from '../helpers/fakeSlack.js';
import { appHomeOpenedEvent, blockAction, homeBlockAction } from '../helpers/slackRequests.js';
import { REQUESTER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

const ADMIN = 'U0ADMIN';
const CHANNEL = 'C0APPROVE';
const DAY = 86_400_000;

const suggestionIds = (m: FakeSlackMessage | undefined) =>
  ((m?.blocks ?? []) as Array<{ block_id?: string; type: string }>).filter((b) => b.type === 'actions' && b.block_id?.startsWith('trust_suggestion:')).map((b) => b.block_id!.slice('trust_suggestion:'.length));

const modeOf = async (db: Db, tool: string) => (await db.selectFrom('trust_settings').select('mode').where('team_id', '=', 'T_TEST').where('action_type', '=', tool).executeTakeFirst())?.mode ?? null;

describe('trust suggestions', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
  });

  async function start(now: { t: Date }, env: Record<string, string> = { APPROVALS_CHANNEL: CHANNEL }) {
    h = await startHarness({ env: { ADMIN_USER_IDS: ADMIN, ...env }, overrides: { clock: { now: () => now.t } } });
    await seedRun(h.app.db, 'T_TEST');
    return h;
  }

  function clickSuggestion(message: FakeSlackMessage, tool: string, button: 'apply' | 'dismiss', userId: string) {
    const actionId = button === 'apply' ? 'trust_suggestion_apply' : 'trust_suggestion_dismiss';
    const block = (message.blocks as Array<{ block_id?: string; elements?: Array<{ action_id: string; value: string }> }>).find((b) => b.block_id === `trust_suggestion:${tool}`);
    const value = block?.elements?.find((e) => e.action_id === actionId)?.value;
    if (!value) throw new Error(`no ${button} button for ${tool}`);
    return blockAction(h!.baseUrl, SIGNING_SECRET, {
      actionId,
      value,
      userId,
      channelId: message.channel,
      messageTs: message.ts,
      responseUrl: h!.slack.responseUrl({ channel: message.channel, userId, messageTs: message.ts }),
      message,
    });
  }

  it('suggests exactly the action types approved 20+ times in 30 days with no rejection and no edit, never hard-floor ones', async () => {
    const now = { t: new Date('2026-11-20T09:00:05Z') };
    await start(now);
    const db = h!.app.db;
    // Lowered defaults need an admin to have made them ask first.
    for (const tool of ['create_subtask', 'set_task_status', 'comment_on_task', 'pause_schedule']) await h!.command(`trust ${tool} require_approval`, { userId: ADMIN });
    const recent = new Date(now.t.getTime() - 10 * DAY);
    await decided(db, 'T_TEST', 'create_subtask', 48, recent); // suggested: 48 of 48
    await decided(db, 'T_TEST', 'delete_schedule', 20, recent); // suggested: exactly the threshold
    await decided(db, 'T_TEST', 'pause_schedule', 19, recent); // one short
    await decided(db, 'T_TEST', 'set_task_status', 25, recent);
    await decided(db, 'T_TEST', 'set_task_status', 1, recent, ['rejected']); // one rejection rules it out
    await decided(db, 'T_TEST', 'schedule_run', 24, recent);
    await decided(db, 'T_TEST', 'schedule_run', 1, recent, ['action_edited', 'approved']); // one Edit & approve rules it out
    await decided(db, 'T_TEST', 'comment_on_task', 15, recent);
    await decided(db, 'T_TEST', 'comment_on_task', 10, new Date(now.t.getTime() - 31 * DAY)); // too old to count: 15 in the window
    await decided(db, 'T_TEST', 'send_email', 60, recent); // hard floor: never
    await decided(db, 'T_TEST', 'update_deal_stage', 30, recent); // hard floor: never
    await decided(db, 'T_TEST', 'resume_schedule', 30, recent); // already runs on its own (auto_notify): nothing to suggest

    expect(await h!.app.runDigests()).toEqual(['T_TEST']);
    await h!.delivered();
    const digest = h!.slack.channelMessages(CHANNEL).find((m) => suggestionIds(m).length > 0);
    expect(suggestionIds(digest)).toEqual(['create_subtask', 'delete_schedule']);
    const texts = JSON.stringify(digest!.blocks);
    expect(texts).toContain('`create_subtask`: approved 48 of 48 times, never edited; run it on its own with a notice?');
    expect(texts).toContain('`delete_schedule`: approved 20 of 20 times, never edited');
    // No queue digest: nothing is waiting, only the suggestions were posted.
    expect(h!.slack.channelMessages(CHANNEL).some((m) => m.text.includes('approvals are waiting'))).toBe(false);
  });

  it('only admins can apply one (a refused click changes nothing and is logged); the message says who applied it; stale buttons do nothing; no daily repeats', async () => {
    // Dates in the past: the outbox delivers a message once the real clock has reached its time.
    const day0 = new Date('2026-09-01T09:00:05Z').getTime();
    const now = { t: new Date(day0) };
    const later = (ms: number) => {
      now.t = new Date(now.t.getTime() + ms);
    };
    await start(now);
    const db = h!.app.db;
    await h!.command('trust create_subtask require_approval', { userId: ADMIN });
    await decided(db, 'T_TEST', 'create_subtask', 48, new Date(day0 - 5 * DAY));
    await decided(db, 'T_TEST', 'delete_schedule', 21, new Date(day0 - 5 * DAY));
    later(60_000);
    expect(await h!.app.runDigests()).toEqual(['T_TEST']);
    await h!.delivered();
    const digest = h!.slack.channelMessages(CHANNEL).find((m) => suggestionIds(m).length > 0)!;
    expect(suggestionIds(digest)).toEqual(['create_subtask', 'delete_schedule']);
    // The message as a client that has not refreshed yet still shows it (stale buttons).
    const asFirstShown = structuredClone(digest);

    // A non-admin: refused privately, the trust is unchanged, the refusal is in the activity log.
    later(60_000);
    expect((await clickSuggestion(digest, 'create_subtask', 'apply', REQUESTER)).status).toBe(200);
    const refusal = await waitUntil(() => h!.slack.ephemerals(REQUESTER).find((e) => e.text.includes('Only admins')), 'the refusal');
    expect(refusal.text).toContain('Nothing was changed');
    expect(await modeOf(db, 'create_subtask')).toBe('require_approval');
    const refused = await db.selectFrom('activity').selectAll().where('kind', '=', 'trust_suggestion_refused').execute();
    expect(refused.map((r) => [r.actor, JSON.parse(r.detail_json).actionType])).toEqual([[REQUESTER, 'create_subtask']]);
    await h!.delivered();
    expect(suggestionIds(h!.slack.message(CHANNEL, digest.ts))).toEqual(['create_subtask', 'delete_schedule']);

    // The admin: auto_notify is set (logged as a trust change), and the message (through the outbox) says so.
    later(60_000);
    await clickSuggestion(digest, 'create_subtask', 'apply', ADMIN);
    const updated = await waitUntil(() => {
      const m = h!.slack.message(CHANNEL, digest.ts);
      return m && JSON.stringify(m.blocks).includes('applied it') ? m : undefined;
    }, 'the digest updated with the outcome');
    expect(suggestionIds(updated)).toEqual(['delete_schedule']);
    expect(JSON.stringify(updated.blocks)).toContain(`<@${ADMIN}> applied it: \`create_subtask\` now runs on its own with a notice`);
    expect(await modeOf(db, 'create_subtask')).toBe('auto_notify');
    const log = await db.selectFrom('activity').select(['kind', 'actor', 'detail_json']).where('kind', 'in', ['trust_changed', 'trust_suggestion_applied']).orderBy('id').execute();
    expect(log.slice(-2).map((r) => [r.kind, r.actor, JSON.parse(r.detail_json).after])).toEqual([
      ['trust_changed', ADMIN, 'auto_notify'],
      ['trust_suggestion_applied', ADMIN, 'auto_notify'],
    ]);

    // The old button, clicked again after the trust changed: nothing happens but a private note.
    const changes = async () => (await db.selectFrom('activity').select('id').where('kind', '=', 'trust_changed').execute()).length;
    const before = await changes();
    later(60_000);
    await clickSuggestion(asFirstShown, 'create_subtask', 'apply', ADMIN);
    await waitUntil(() => h!.slack.ephemerals(ADMIN).find((e) => e.text.includes('changed since this suggestion')), 'the stale note');
    expect(await changes()).toBe(before);
    // An admin setting it back to ask makes the suggestion's button stale too: it was made about another setting.
    later(60_000);
    await h!.command('trust create_subtask require_approval', { userId: ADMIN });
    later(60_000);
    await clickSuggestion(asFirstShown, 'create_subtask', 'apply', ADMIN);
    await waitUntil(() => h!.slack.ephemerals(ADMIN).filter((e) => e.text.includes('changed since this suggestion')).length === 2, 'the second stale note');
    expect(await modeOf(db, 'create_subtask')).toBe('require_approval');
    expect(await changes()).toBe(before + 1);

    // Not repeated: the next day's digest has nothing (one applied, the other offered yesterday).
    later(DAY);
    expect(await h!.app.runDigests()).toEqual([]);
    await clickSuggestion(digest, 'delete_schedule', 'dismiss', ADMIN);
    await waitUntil(() => JSON.stringify(h!.slack.message(CHANNEL, digest.ts)?.blocks).includes('chose to keep approving'), 'the dismissal on the message');
    now.t = new Date(day0 + 21 * DAY);
    expect(await h!.app.runDigests()).toEqual([]);

    // After the 30 quiet days a suggestion that still holds (fresh approvals) comes back, once; the
    // applied one's approvals are now older than the window.
    await decided(db, 'T_TEST', 'delete_schedule', 20, new Date(day0 + 28 * DAY));
    now.t = new Date(day0 + 33 * DAY);
    expect(await h!.app.runDigests()).toEqual(['T_TEST']);
    await h!.delivered();
    // The first digest's buttons are all used up by now; a new message carries the returning suggestion.
    const offered = h!.slack.channelMessages(CHANNEL).filter((m) => suggestionIds(m).length > 0);
    expect(offered.map((m) => [m.ts === digest.ts, suggestionIds(m)])).toEqual([[false, ['delete_schedule']]]);

    // Everything above went through the one append function: the log's chain holds.
    expect((await verifyActivityChain(db)).ok).toBe(true);
  });

  it('without an approvals channel, suggestions go to the configured admins by DM', async () => {
    const now = { t: new Date('2026-11-20T09:00:05Z') };
    await start(now, {});
    await decided(h!.app.db, 'T_TEST', 'delete_schedule', 22, new Date(now.t.getTime() - DAY));
    expect(await h!.app.runDigests()).toEqual(['T_TEST']);
    await h!.delivered();
    const dm = await waitUntil(() => h!.slack.channelMessages(`D${ADMIN}`).find((m) => suggestionIds(m).length > 0), 'the DM to the admin');
    expect(suggestionIds(dm)).toEqual(['delete_schedule']);
  });

  it('App Home shows admins the suggestion; a click there applies it (admins only) and the Home says so', async () => {
    const now = { t: new Date('2026-09-01T09:00:05Z') };
    await start(now);
    await decided(h!.app.db, 'T_TEST', 'delete_schedule', 20, new Date(now.t.getTime() - DAY));
    h!.slack.addUser({ id: ADMIN, name: 'ada', real_name: 'Ada Admin' });
    await h!.event(appHomeOpenedEvent({ user: ADMIN }));
    await h!.event(appHomeOpenedEvent({ user: REQUESTER }));
    const homeOf = (user: string, ok: (text: string) => boolean, what: string) =>
      waitUntil(() => {
        const v = h!.slack.homeView(user);
        return v && ok(JSON.stringify(v.blocks)) ? v : undefined;
      }, what);
    const adminHome = await homeOf(ADMIN, (t) => t.includes('trust_suggestion:delete_schedule'), "the suggestion on the admin's Home");
    expect(JSON.stringify(adminHome.blocks)).toContain('approved 20 of 20 times, never edited');
    // Not an admin: no suggestion on their Home.
    const requesterHome = await homeOf(REQUESTER, (t) => t.includes('Waiting for you'), "the requester's Home");
    expect(JSON.stringify(requesterHome.blocks)).not.toContain('trust_suggestion');

    const value = (adminHome.blocks as Array<{ elements?: Array<{ action_id: string; value: string }> }>).flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'trust_suggestion_apply')!.value;
    // A non-admin who replays the admin's button from a Home view is refused; nothing changes.
    const forged = { id: requesterHome.id, hash: requesterHome.hash, blocks: adminHome.blocks };
    expect((await homeBlockAction(h!.baseUrl, SIGNING_SECRET, { actionId: 'trust_suggestion_apply', value, userId: REQUESTER, view: forged })).status).toBe(200);
    await homeOf(REQUESTER, (t) => t.includes('Only admins'), "the refusal on the requester's Home");
    expect(await modeOf(h!.app.db, 'delete_schedule')).toBe(null);

    expect((await homeBlockAction(h!.baseUrl, SIGNING_SECRET, { actionId: 'trust_suggestion_apply', value, userId: ADMIN, view: adminHome })).status).toBe(200);
    const after = await homeOf(ADMIN, (t) => t.includes('applied it'), "the confirmation on the admin's Home");
    expect(JSON.stringify(after.blocks)).not.toContain('trust_suggestion:delete_schedule');
    expect(await modeOf(h!.app.db, 'delete_schedule')).toBe('auto_notify');
  });
});
