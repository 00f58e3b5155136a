import type { AllMiddlewareArgs, App, BlockAction, BlockButtonAction, RespondFn, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { MAX_BATCH } from '../../../agent/homeTab.js';
import { errorMessage } from '../../../errors.js';
import { code, joinMd, md, trusted, type Mrkdwn } from '../../../text/mrkdwn.js';
import { HOME_ACTION_IDS, HOME_BATCH_BLOCK } from '../../blocks/home.js';
import { alreadyDecidedText } from '../../decisionText.js';
import { blockActionSchema, clickerOf, teamOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';
import { approveAction } from './approve.js';
import { editAction } from './edit.js';
import { rejectAction } from './reject.js';
import { homeSelectAction } from './homeSelect.js';
import { parseApproveValue } from '../../blocks/approveValue.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;
type Handler = (args: ButtonArgs) => Promise<void>;

/**
 * A Home tab click runs the card button's own listener (the same parsing, checks, stored decision and
 * dispatch); only the private answer differs: a Home tab has no response_url, so the answer is shown at
 * the top of the clicker's Home view instead of as an ephemeral message.
 */
function viaHome(services: SlackServices, handler: Handler): Handler {
  return async (args) => {
    const parsed = blockActionSchema.safeParse(args.body);
    const teamId = parsed.success ? teamOf(parsed.data) : '';
    const userId = parsed.success ? parsed.data.user.id : '';
    const respond = (async (message: string | { text?: string }) => {
      const text = typeof message === 'string' ? message : (message.text ?? '');
      if (teamId && userId && text) await services.home.tell(teamId, userId, trusted(text));
      return undefined;
    }) as unknown as RespondFn;
    if (teamId && userId) await services.home.seen(teamId, userId).catch((err: unknown) => services.logger.warn({ err: errorMessage(err) }, 'could not note the Home viewer'));
    // The view may be older than the viewer's channel membership: may they still see this run?
    const actionId = parsed.success ? parseApproveValue(parsed.data.actions[0]?.value ?? '').actionId : '';
    if (teamId && userId && actionId && !(await services.home.maySee(teamId, userId, actionId))) {
      await args.ack();
      await services.home.tell(teamId, userId, trusted(":no_entry: You can no longer see the run this belongs to (you may have left its channel). Nothing was changed."));
      return;
    }
    await handler({ ...args, respond });
  };
}

const selectionSchema = z.looseObject({
  view: z.looseObject({
    state: z.looseObject({
      values: z.record(z.string(), z.record(z.string(), z.looseObject({ selected_options: z.array(z.looseObject({ value: z.string() })).nullish() }))),
    }),
  }),
});

/** "Approve selected": one approval per ticked action, each through the card's approval path. */
function approveSelected(services: SlackServices): Handler {
  return async ({ ack, body }) => {
    const parsed = blockActionSchema.safeParse(body);
    const state = selectionSchema.safeParse(body);
    const tool = parsed.success ? parsed.data.actions[0]?.value : undefined;
    if (!parsed.success || !state.success || !tool) {
      await ack();
      services.logger.warn('"Approve selected" without a usable payload');
      return;
    }
    const teamId = teamOf(parsed.data);
    const userId = parsed.data.user.id;
    const picked = state.data.view.state.values[`${HOME_BATCH_BLOCK}${tool}`]?.[HOME_ACTION_IDS.select]?.selected_options ?? [];
    const ids = picked.map((o) => parseApproveValue(o.value));
    if (ids.length === 0) {
      await ack();
      await services.home.tell(teamId, userId, md`Tick the ${code(tool)} actions to approve first, then click *Approve selected*. Nothing was changed.`);
      return;
    }
    if (ids.length > MAX_BATCH) {
      await ack();
      await services.home.tell(teamId, userId, trusted(`At most ${MAX_BATCH} actions can be approved at once. Nothing was changed.`));
      return;
    }
    let note: Mrkdwn;
    try {
      // Decided (stored) before Slack is answered, like a card's Approve.
      const outcome = await services.home.approveSelected({ teamId, userId, items: ids, clicker: clickerOf(parsed.data) });
      await ack();
      if (outcome.outcome === 'mixed_kinds') note = trusted('Only actions of one kind can be approved together. Nothing was changed.');
      else {
        const approved = outcome.results.filter((r) => r.decision.outcome === 'approved').length;
        const skipped = outcome.results
          .filter((r) => r.decision.outcome !== 'approved')
          .map((r) => {
            const d = r.decision;
            // Two-person approval: this person's approval is recorded, the action waits for the others.
            if (d.outcome === 'changed') return md`\n• ${code(r.actionId)} skipped: it was edited since this view was shown; look at it again.`;
            if (d.outcome === 'counted' || d.outcome === 'already_approved') {
              const what = d.outcome === 'counted' ? 'your approval is counted' : 'you had already approved it';
              return md`\n• ${code(r.actionId)}: ${what}, ${String(d.given)} of ${String(d.required)} approvals; it waits for the others.`;
            }
            const why = d.outcome === 'already_decided' ? alreadyDecidedText(d.action) : d.outcome === 'not_allowed' ? `${d.why} Nothing was changed.` : d.outcome === 'failed' ? md`Approving failed: ${d.error}. Nothing was sent.`.value : '';
            return md`\n• ${code(r.actionId)} skipped: ${trusted(why)}`;
          });
        note = md`:white_check_mark: Approved ${approved} of ${ids.length} selected ${code(outcome.tool)} action${ids.length === 1 ? '' : 's'}.${joinMd(skipped)}`;
      }
    } catch (err) {
      await ack();
      services.logger.error({ err: errorMessage(err) }, '"Approve selected" failed');
      note = md`:x: Approving failed: ${errorMessage(err)}. Check the list before trying again.`;
    }
    await services.home.tell(teamId, userId, note);
  };
}

export function registerHomeActions(app: App, services: SlackServices): void {
  app.action<BlockButtonAction>(HOME_ACTION_IDS.approve, viaHome(services, approveAction(services)));
  app.action<BlockButtonAction>(HOME_ACTION_IDS.reject, viaHome(services, rejectAction(services)));
  app.action<BlockButtonAction>(HOME_ACTION_IDS.edit, viaHome(services, editAction(services)));
  app.action<BlockButtonAction>(HOME_ACTION_IDS.approveSelected, approveSelected(services));
  // A link button also sends a click; only the ack is needed.
  app.action<BlockAction>(HOME_ACTION_IDS.openCard, async ({ ack }) => void (await ack()));
  app.action<BlockAction>(HOME_ACTION_IDS.select, homeSelectAction(services.logger));
}
