/**
 * Seeds suspended runs by cloning one real suspended run (its run row, messages, pending action, activity
 * and model calls) with fresh ids, through Kysely, after the real migrations. Cloning a run the app itself
 * created keeps the rows realistic (system prompt, tool list, thinking signatures, card location).
 */
import type { Kysely } from 'kysely';
import type { Action, ActivityRow, Database, ModelCall, Run, RunMessage } from '../../src/db/schema.js';
import { appendActivities, type ActivityEntry } from '../../src/db/repos/activity.js';
import { randomIds } from '../../src/ids.js';

export interface RunTemplate {
  run: Run;
  messages: RunMessage[];
  actions: Action[];
  activity: ActivityRow[];
  modelCalls: ModelCall[];
}

/** The first run of `teamId` that is waiting for an approval, with everything stored about it. */
export async function snapshotSuspendedRun(db: Kysely<Database>, teamId: string): Promise<RunTemplate | undefined> {
  const run = await db.selectFrom('runs').selectAll().where('team_id', '=', teamId).where('status', '=', 'awaiting_approval').orderBy('created_at').executeTakeFirst();
  if (!run) return undefined;
  const [messages, actions, activity, modelCalls] = await Promise.all([
    db.selectFrom('run_messages').selectAll().where('run_id', '=', run.id).orderBy('seq').execute(),
    db.selectFrom('actions').selectAll().where('run_id', '=', run.id).execute(),
    db.selectFrom('activity').selectAll().where('run_id', '=', run.id).orderBy('id').execute(),
    db.selectFrom('model_calls').selectAll().where('run_id', '=', run.id).execute(),
  ]);
  if (!actions.some((a) => a.status === 'pending')) return undefined;
  return { run, messages, actions, activity, modelCalls };
}

function fakeTs(i: number, micros: number): string {
  return `${1_690_000_000 + i}.${String(micros).padStart(6, '0')}`;
}

/**
 * Inserts `count` clones of the template, in batches inside one transaction. Run i goes to team
 * `teamFor(i)` and channel `channelFor(i)`; its pending action keeps a (fake) card location.
 */
export async function seedSuspendedRuns(
  db: Kysely<Database>,
  t: RunTemplate,
  opts: { count: number; teamFor(i: number): string; channelFor(i: number): string; batch?: number },
): Promise<void> {
  const batch = opts.batch ?? 100;
  await db.transaction().execute(async (trx) => {
    for (let start = 0; start < opts.count; start += batch) {
      const runs: Run[] = [];
      const messages: Array<Omit<RunMessage, 'id'>> = [];
      const actions: Action[] = [];
      const activity: ActivityEntry[] = [];
      const modelCalls: Array<Omit<ModelCall, 'id'>> = [];
      for (let i = start; i < Math.min(opts.count, start + batch); i++) {
        const runId = randomIds.runId();
        const team = opts.teamFor(i);
        const channel = opts.channelFor(i);
        const threadTs = fakeTs(i, 100);
        runs.push({ ...t.run, id: runId, team_id: team, channel_id: channel, thread_ts: threadTs, status: 'awaiting_approval' });
        for (const { id: _id, ...m } of t.messages) messages.push({ ...m, run_id: runId });
        const actionIds = new Map<string, string>();
        t.actions.forEach((a, j) => {
          const id = randomIds.actionId();
          actionIds.set(a.id, id);
          actions.push({
            ...a,
            id,
            run_id: runId,
            team_id: team,
            ...(a.card_ts ? { card_channel: channel, card_ts: fakeTs(i, 200 + j) } : {}),
          });
        });
        // Through the one append function, so the clones are chained like any other row.
        for (const row of t.activity) {
          const detail = JSON.parse(row.detail_json) as Record<string, unknown>;
          activity.push({ at: row.at, teamId: team, runId, actionId: row.action_id ? (actionIds.get(row.action_id) ?? null) : null, actor: row.actor, kind: row.kind, detail });
        }
        for (const { id: _id, ...row } of t.modelCalls) modelCalls.push({ ...row, run_id: runId, team_id: team });
      }
      await trx.insertInto('runs').values(runs).execute();
      if (messages.length) await trx.insertInto('run_messages').values(messages).execute();
      if (actions.length) await trx.insertInto('actions').values(actions).execute();
      await appendActivities(trx, activity);
      if (modelCalls.length) await trx.insertInto('model_calls').values(modelCalls).execute();
    }
  });
}
