import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/agent/outbox.js';
import { systemClock } from '../../src/clock.js';
import type { OpenedDatabase } from '../../src/db/connection.js';
import { DEFAULT_OUTBOX_SETTINGS } from '../../src/main.js';
import { md } from '../../src/text/mrkdwn.js';
import { textReply } from '../helpers/fakeClaude.js';
import { APPROVER, startHarness, waitUntil, type AppInstance, type Harness } from '../helpers/testApp.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';

// Three real app processes on one Postgres database, each with its own per-minute schedule job and its
// own outbox delivery loop (the in-process app of the harness is stopped).
const TEAM = 'T_TEST';
const SCHEDULE_CHANNEL = 'C_SCHED';
const TASK = 'summarise the open deals';

describe.skipIf(TEST_ENGINE !== 'postgres')('three instances share the schedules and the Slack outbox', () => {
  let h: Harness;
  let probe: OpenedDatabase;
  let instances: AppInstance[];
  let allUpAt: number;

  beforeAll(async () => {
    h = await startHarness();
    await h.stopApp();
    probe = h.database.open();
    h.claude.respond(() => textReply('Open deals: 3.'));
    const at = new Date().toISOString();
    // Due every minute: each instance's job looks at it at second 0 of every minute.
    await probe.db
      .insertInto('schedules')
      .values({ id: 's-multi01', team_id: TEAM, channel_id: SCHEDULE_CHANNEL, owner_id: APPROVER, cron: '* * * * *', timezone: 'UTC', task: TASK, status: 'active', created_by_run_id: null, last_fired_minute: null, created_at: at, updated_at: at })
      .execute();
    // One after the other: three cold starts at once on a 2-core machine are slower than in turn.
    instances = [];
    for (let i = 0; i < 3; i++) instances.push(await h.spawnInstance());
    allUpAt = Date.now();
  }, 150_000);

  afterAll(async () => {
    await probe?.db.destroy();
    await h?.close();
  });

  it('queued Slack messages are each sent exactly once, in order per channel, while three instances deliver', async () => {
    expect(instances).toHaveLength(3);
    const channels = ['C_OUT1', 'C_OUT2', 'C_OUT3', 'C_OUT4', 'C_OUT5', 'C_OUT6'];
    const perChannel = 6;
    const outbox = new Outbox(systemClock, DEFAULT_OUTBOX_SETTINGS);
    await probe.db.transaction().execute(async (trx) => {
      for (let i = 1; i <= perChannel; i++) for (const c of channels) await outbox.toChannel(trx, TEAM, c, md`Backlog ${c} #${String(i)}`);
    });

    const texts = (c: string) => h.slack.channelMessages(c).map((m) => m.text);
    await waitUntil(() => channels.every((c) => texts(c).length >= perChannel) || undefined, 'every queued message to be posted', 40_000);
    const rows = await waitUntil(async () => {
      const r = await probe.db.selectFrom('slack_outbox').select(['status', 'claimed_by']).where('channel', 'in', channels).execute();
      return r.every((x) => x.status === 'sent') ? r : undefined;
    }, 'every row to be recorded as sent');
    for (const c of channels) expect(texts(c)).toEqual(Array.from({ length: perChannel }, (_, i) => `Backlog ${c} #${i + 1}`));
    const posts = h.slack.calls.filter((call) => call.method === 'chat.postMessage' && call.ok && String(call.args['text']).startsWith('Backlog '));
    expect(posts).toHaveLength(channels.length * perChannel);
    const byInstance = new Map<string, number>();
    for (const r of rows) byInstance.set(String(r.claimed_by), (byInstance.get(String(r.claimed_by)) ?? 0) + 1);
    console.info(`multi-instance: ${rows.length} messages sent by ${byInstance.size} instance(s): ${[...byInstance.values()].join(', ')}`);
  }, 150_000);

  it('a schedule due every minute fires once per minute, whichever of the three instances claims it', async () => {
    // The first minute that starts with all three running: each of them ticks at its second 0.
    const minute = Math.ceil(allUpAt / 60_000) * 60_000;
    const inMinute = async (start: number) =>
      (await probe.db.selectFrom('runs').select(['id', 'created_at']).where('task', '=', TASK).execute()).filter((r) => {
        const t = Date.parse(r.created_at);
        return t >= start && t < start + 60_000;
      });
    await waitUntil(async () => ((await inMinute(minute)).length > 0 ? true : undefined), 'the schedule to fire', 90_000);
    // Every instance's tick for that minute is over well within 10 s (they are all due at second 0).
    await waitUntil(() => Date.now() > minute + 10_000 || undefined, 'the other ticks of that minute', 20_000);
    expect(await inMinute(minute)).toHaveLength(1);
    // No minute ever fired twice (including any before all three were up).
    const all = await probe.db.selectFrom('runs').select('created_at').where('task', '=', TASK).execute();
    const minutes = all.map((r) => Math.floor(Date.parse(r.created_at) / 60_000));
    expect(new Set(minutes).size).toBe(minutes.length);
    const fired = await probe.db.selectFrom('activity').select('id').where('kind', '=', 'schedule_fired').execute();
    expect(fired).toHaveLength(all.length);
    const [run] = await inMinute(minute);
    await waitUntil(async () => ((await probe.db.selectFrom('runs').select('status').where('id', '=', run!.id).executeTakeFirst())?.status === 'completed' ? true : undefined), 'the scheduled run to complete', 20_000);
  }, 180_000);
});
