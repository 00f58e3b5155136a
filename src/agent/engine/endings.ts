import { appendActivity } from '../../db/repos/activity.js';
import { getAction, transitionAction } from '../../db/repos/actions.js';
import { getRun, transitionRun } from '../../db/repos/runs.js';
import type { Action, Run } from '../../db/schema.js';
import { describeCapStop, type CapCheck } from '../../policy/caps.js';
import { md, trusted, type Mrkdwn } from '../../text/mrkdwn.js';
import { describeAction } from '../cards.js';
import { requesterPing } from '../deciders.js';
import { PRIORITY } from '../outbox.js';
import { ACTIVE, type EngineContext } from './context.js';

export interface EndOptions {
  /** How the ending is said in the thread: a plain line, one with Retry, one with "raise cap", or nothing. */
  announce?: 'line' | 'retry' | 'capstop' | 'none';
  cap?: string;
  /** An extra activity row recorded with the ending. */
  activity?: { kind: string; detail: Record<string, unknown> };
}

/**
 * Ends a run: the status, the closing of its open cards, the activity row and the thread message that
 * says so are one transaction, so a crash can delay that message but never lose it.
 */
export async function endRun(ctx: EngineContext, runId: string, status: 'failed' | 'stopped', code: string, message: string, opts: EndOptions = {}): Promise<void> {
  const at = ctx.now();
  const { db, outbox } = ctx.deps;
  const ended = await db.transaction().execute(async (trx) => {
    if (!(await transitionRun(trx, runId, ACTIVE, { status, error_code: code, error_message: message, finished_at: at, updated_at: at }))) return false;
    const run = await getRun(trx, runId);
    if (!run) return false;
    // Nothing of an ended run may still look decidable or count in the approval queue.
    const open = await trx.selectFrom('actions').select('id').where('run_id', '=', runId).where('status', 'in', ['pending', 'approved']).execute();
    for (const a of open) {
      const closed = await transitionAction(trx, a.id, ['pending', 'approved'], {
        status: 'cancelled',
        decision_note: `The run ${status === 'failed' ? 'failed' : 'stopped'}: ${message}`,
        result_json: JSON.stringify({ content: `Not run: the run ${status}.`, is_error: true }),
        updated_at: at,
      });
      if (closed) await outbox.updateCard(trx, run, a.id);
    }
    await appendActivity(trx, { at, teamId: run.team_id, runId, actor: 'system', kind: status === 'failed' ? 'run_failed' : 'run_stopped', detail: { code, message } });
    if (opts.activity) await appendActivity(trx, { at, teamId: run.team_id, runId, actor: 'system', kind: opts.activity.kind, detail: opts.activity.detail });
    const icon = status === 'failed' ? ':x:' : ':octagonal_sign:';
    const text = md`${trusted(icon)} ${requesterPing(run)}${message}`;
    switch (opts.announce ?? 'line') {
      case 'line':
        await outbox.line(trx, run, text, PRIORITY.decision);
        break;
      case 'retry':
        await outbox.retry(trx, run, text);
        break;
      case 'capstop':
        await outbox.capStop(trx, run, text, opts.cap ?? 'run');
        break;
      case 'none':
        break;
    }
    await outbox.updateTaskMessage(trx, run, 'now');
    return true;
  });
  if (ended) outbox.wake();
}

export async function failRun(ctx: EngineContext, runId: string, code: string, message: string, opts: { tellThread?: boolean } = {}): Promise<void> {
  await endRun(ctx, runId, 'failed', code, message, { announce: opts.tellThread === false ? 'none' : 'line' });
}

export async function stopRun(ctx: EngineContext, run: Run, code: string, message: string): Promise<void> {
  await endRun(ctx, run.id, 'stopped', code, message);
}

/** A turn proposed a call the approval queue refused: its other open calls are cancelled with it. */
export async function stopForQueue(ctx: EngineContext, run: Run, actions: Action[]): Promise<void> {
  const at = ctx.now();
  await ctx.deps.db.transaction().execute(async (trx) => {
    for (const a of actions.filter((x) => x.status === 'pending' || x.status === 'approved')) {
      const closed = await transitionAction(trx, a.id, ['pending', 'approved'], {
        status: 'cancelled',
        decision_note: 'Not queued: approvals are not being cleared.',
        result_json: JSON.stringify({ content: 'Not run: approvals are not being cleared.', is_error: true }),
        updated_at: at,
      });
      if (closed) await ctx.deps.outbox.updateCard(trx, run, a.id);
    }
  });
  await stopRun(ctx, run, 'queue_full', "I've stopped because approvals aren't being cleared; tell me when you're ready.");
}

export async function stopForCap(ctx: EngineContext, run: Run, check: Exclude<CapCheck, { ok: true }>): Promise<void> {
  const message = `${describeCapStop(check)} No further model call was made.`;
  await endRun(ctx, run.id, 'stopped', 'cap_reached', message, {
    announce: 'capstop',
    cap: check.cap,
    activity: { kind: 'cap_reached', detail: { cap: check.cap, used: check.used, limit: check.limit } },
  });
}

/**
 * The outbox could not post the run's task message (e.g. the bot is not in the channel): the run
 * cannot be followed, so it fails, and the requester is told privately where they typed the command.
 */
export async function taskMessageUndeliverable(ctx: EngineContext, runId: string, why: string): Promise<void> {
  await endRun(ctx, runId, 'failed', 'slack_post_failed', `Could not post the task message: ${why}`, { announce: 'none' });
}

/** A card that cannot be posted anywhere: nothing can be approved, so the run fails and says why. */
export async function cardUndeliverable(ctx: EngineContext, actionId: string, why: string): Promise<void> {
  const action = await getAction(ctx.deps.db, actionId);
  if (!action) return;
  const summary = describeAction(ctx.deps.registry, action).summary;
  await endRun(ctx, action.run_id, 'failed', 'card_post_failed', `I could not post the approval card for "${summary}" (${why}). Nothing was sent.`);
}

/**
 * Puts a stopped or failed run back to `running` (the caller then kicks it), with `say` queued in the
 * same transaction. False when the run was not stopped or failed (e.g. someone else resumed it first).
 */
export async function reopenRun(ctx: EngineContext, runId: string, say?: Mrkdwn): Promise<boolean> {
  const { outbox } = ctx.deps;
  const ok = await ctx.deps.db.transaction().execute(async (trx) => {
    if (!(await transitionRun(trx, runId, ['stopped', 'failed'], { status: 'running', error_code: null, error_message: null, finished_at: null, updated_at: ctx.now() }))) return false;
    const run = await getRun(trx, runId);
    if (run) {
      if (say) await outbox.line(trx, run, say, PRIORITY.decision);
      await outbox.updateTaskMessage(trx, run, 'now');
    }
    return true;
  });
  if (ok) outbox.wake();
  return ok;
}
