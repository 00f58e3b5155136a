import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { countPendingApprovals } from '../db/repos/actions.js';
import { getWorkspace, listTeamIds, settingsOf } from '../db/repos/workspace.js';
import type { Action } from '../db/schema.js';
import { errorMessage } from '../errors.js';
import type { ToolRegistry } from '../tools/registry.js';
import { describeAction } from './cards.js';
import type { QueueThresholds } from './policyContext.js';
import type { Outbox } from './outbox.js';
import { slackDateText } from './text.js';
import { joinMd, md, trusted, type Mrkdwn } from '../text/mrkdwn.js';
import type { TrustSuggestion, TrustSuggestions } from './trustSuggestions.js';

/** Trust suggestions in the digest (see trustSuggestions.ts); absent: the digest has none. */
export interface DigestSuggestions {
  service: Pick<TrustSuggestions, 'forDigest' | 'markOffered'>;
  /** The Block Kit message (the Slack layer's renderer, passed in by the composition root). */
  render(list: readonly TrustSuggestion[]): { text: Mrkdwn; blocks: Array<Record<string, unknown>> };
  /** Where suggestions go when cards have no approvals channel: these admins, by DM (ADMIN_USER_IDS). */
  adminUserIds: readonly string[];
}

export interface DigestDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  outbox: Outbox;
  /** A link to a message, when Slack gives one (a read, not a write: it does not go through the outbox). */
  permalink(teamId: string, channel: string, ts: string): Promise<string | undefined>;
  registry: ToolRegistry;
  queue: QueueThresholds;
  cardRoute(teamId: string): Promise<string | undefined>;
  suggestions?: DigestSuggestions;
}

/** The local hour and date of `now` in `timeZone` (IANA), falling back to UTC for an unknown zone. */
export function localHourAndDate(now: Date, timeZone: string | undefined): { hour: number; date: string } {
  try {
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone ?? 'UTC', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }).formatToParts(now);
    const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
    return { hour: Number(get('hour')), date: `${get('year')}-${get('month')}-${get('day')}` };
  } catch {
    return { hour: now.getUTCHours(), date: now.toISOString().slice(0, 10) };
  }
}

/**
 * The daily digest of pending approvals, posted to the approvals channel at the workspace's digest hour
 * when the queue has reached the warning threshold, with the trust suggestions for admins (there, or by DM
 * to the configured admins when cards go to task threads). Called every hour; a marker row makes sure each
 * workspace gets at most one digest per local day, even across restarts or several instances.
 */
export async function runDigests(deps: DigestDeps): Promise<string[]> {
  const posted: string[] = [];
  for (const teamId of await listTeamIds(deps.db)) {
    try {
      if (await digestFor(deps, teamId)) posted.push(teamId);
    } catch (err) {
      deps.logger.warn({ err: errorMessage(err), teamId }, 'digest failed');
    }
  }
  return posted;
}

async function digestFor(deps: DigestDeps, teamId: string): Promise<boolean> {
  const { db, clock } = deps;
  const settings = settingsOf(await getWorkspace(db, teamId));
  const now = clock.now();
  const local = localHourAndDate(now, settings.digestTimezone);
  if (local.hour !== settings.digestHour) return false;
  const pending = await countPendingApprovals(db, teamId);
  const channel = await deps.cardRoute(teamId);
  const queueTo = pending >= deps.queue.warnAt ? channel : undefined;
  const suggestions = deps.suggestions ? await deps.suggestions.service.forDigest(teamId) : [];
  const suggestTo = suggestions.length === 0 ? [] : channel ? [channel] : [...(deps.suggestions?.adminUserIds ?? [])];
  if (!queueTo && suggestTo.length === 0) return false;
  const key = `digest:${teamId}:${local.date}`;
  const done = await db.selectFrom('processed_events').select('key').where('key', '=', key).executeTakeFirst();
  if (done) return false;
  const text = queueTo ? await queueText(deps, teamId, pending) : undefined;
  const suggested = suggestTo.length ? deps.suggestions!.render(suggestions) : undefined;
  // The once-per-day marker and the messages commit together: across instances and restarts, one digest.
  return db.transaction().execute(async (trx) => {
    const claimed = await trx.insertInto('processed_events').values({ key, at: now.toISOString() }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
    if (Number(claimed.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    if (queueTo && text) await deps.outbox.toChannel(trx, teamId, queueTo, text);
    if (suggested) {
      for (const to of suggestTo) await deps.outbox.toChannel(trx, teamId, to, suggested.text, suggested.blocks);
      await deps.suggestions!.service.markOffered(trx, teamId, suggestions);
    }
    return true;
  }).then((posted) => {
    if (posted) deps.outbox.wake();
    return posted;
  });
}

async function queueText(deps: DigestDeps, teamId: string, pending: number): Promise<Mrkdwn> {
  const { db } = deps;
  const rows = (await db
    .selectFrom('actions')
    .selectAll()
    .where('team_id', '=', teamId)
    .where('status', '=', 'pending')
    .orderBy('created_at')
    .limit(40)
    .execute()) as Action[];
  const lines: Mrkdwn[] = [];
  for (const a of rows) {
    const link = a.card_channel && a.card_ts ? await deps.permalink(teamId, a.card_channel, a.card_ts) : undefined;
    const summary = describeAction(deps.registry, a).summary;
    const label = link ? md`${trusted(`<${link}|`)}${summary}${trusted('>')}` : md`${summary}`;
    lines.push(md`• ${label} — run \`${a.run_id}\`, waiting since ${trusted(slackDateText(a.created_at))}`);
  }
  const more = pending > rows.length ? `\n…and ${pending - rows.length} more.` : '';
  return md`:inbox_tray: *${pending} approvals are waiting* (warning threshold ${deps.queue.warnAt}, new ones stop being queued at ${deps.queue.stopAt}).\n${joinMd(lines, '\n')}${more}`;
}
