import type { Clock } from '../clock.js';
import type { Db } from '../db/connection.js';
import { getAction } from '../db/repos/actions.js';
import { forgetHomeViewers, setHomeNote, touchHomeViewer } from '../db/repos/homeViewers.js';
import { errorMessage } from '../errors.js';
import type { Mrkdwn } from '../text/mrkdwn.js';
import type { Approvals, Decision } from './approvals.js';
import type { Outbox } from './outbox.js';
import type { Clicker } from './organisation.js';

/** Viewers who have not opened their Home for this long are forgotten (the table stays small). */
const FORGET_AFTER_MS = 30 * 24 * 3600_000;
/** At most this many actions in one "Approve selected" (Slack shows 10 checkboxes per group). */
export const MAX_BATCH = 10;

export type BatchOutcome =
  | { outcome: 'mixed_kinds' }
  | { outcome: 'decided'; tool: string; results: Array<{ actionId: string; decision: Decision | { outcome: 'failed'; error: string } }> };

/**
 * The App Home tab's side of the core: who has it open (only their views are kept current), the answer to
 * a click there (Slack has no ephemeral reply in a Home tab, so it is shown at the top of the view), and
 * "Approve selected", which approves each action through the same path as its card's Approve button.
 */
export class AppHome {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      outbox: Outbox;
      approvals: Approvals;
      /** Whether the viewer may see the action's run now (a Home view can be older than a membership). */
      maySee?: (teamId: string, userId: string, actionId: string) => Promise<boolean>;
    },
  ) {}

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** The viewer opened their Home tab: it is published now and kept current while they are recent. */
  async opened(teamId: string, userId: string): Promise<void> {
    const { db, outbox } = this.deps;
    const at = this.now();
    await db.transaction().execute(async (trx) => {
      await touchHomeViewer(trx, teamId, userId, at);
      await outbox.publishHome(trx, teamId, userId, 0);
    });
    outbox.wake();
    await forgetHomeViewers(db, new Date(Date.parse(at) - FORGET_AFTER_MS).toISOString());
  }

  /** The viewer used their Home tab: keep it current, without publishing it for that alone. */
  async seen(teamId: string, userId: string): Promise<void> {
    await touchHomeViewer(this.deps.db, teamId, userId, this.now());
  }

  /** Shows `note` (safe mrkdwn) at the top of the viewer's Home and republishes it. */
  async tell(teamId: string, userId: string, note: Mrkdwn): Promise<void> {
    const { db, outbox } = this.deps;
    await db.transaction().execute(async (trx) => {
      // Bounded for storage only: the view clips it to what Slack shows without cutting an entity in half.
      await setHomeNote(trx, teamId, userId, note.value.slice(0, 10_000), this.now());
      await outbox.publishHome(trx, teamId, userId, 0);
    });
    outbox.wake();
  }

  /**
   * Approves the selected actions one by one through Approvals.approve (the card's path: the same checks,
   * the same stored decision, the same dispatch). Only actions of one kind (tool) go together; one decided
   * meanwhile is skipped by approve() itself and reported.
   */
  /** The Home's own visibility rule, checked again on every click (true when no check is wired). */
  async maySee(teamId: string, userId: string, actionId: string): Promise<boolean> {
    return this.deps.maySee ? this.deps.maySee(teamId, userId, actionId) : true;
  }

  async approveSelected(input: { teamId: string; userId: string; items: Array<{ actionId: string; expectHash?: string }>; clicker: Clicker }): Promise<BatchOutcome> {
    // Each tick carries the call that was shown (its hash): an approval counts only for that call.
    const shown = new Map(input.items.map((i) => [i.actionId, i.expectHash]));
    const ids = [...shown.keys()].slice(0, MAX_BATCH);
    const tools = new Set<string>();
    for (const id of ids) {
      const action = await getAction(this.deps.db, id);
      if (action) tools.add(action.tool);
    }
    if (tools.size > 1) return { outcome: 'mixed_kinds' };
    const results: Array<{ actionId: string; decision: Decision | { outcome: 'failed'; error: string } }> = [];
    for (const actionId of ids) {
      try {
        if (!(await this.maySee(input.teamId, input.userId, actionId))) {
          results.push({ actionId, decision: { outcome: 'failed', error: 'you can no longer see the run it belongs to' } });
          continue;
        }
        const expectHash = shown.get(actionId);
        results.push({ actionId, decision: await this.deps.approvals.approve({ actionId, userId: input.userId, clicker: input.clicker, ...(expectHash ? { expectHash } : {}) }) });
      } catch (err) {
        results.push({ actionId, decision: { outcome: 'failed', error: errorMessage(err) } });
      }
    }
    return { outcome: 'decided', tool: [...tools][0] ?? '', results };
  }
}
