import type { AllMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { errorMessage, isAppError } from '../../../errors.js';
import { code, md } from '../../../text/mrkdwn.js';
import { TRUST_MODES } from '../../../policy/catalog.js';
import type { TrustMode } from '../../../db/schema.js';
import { clickerOf } from '../../payloads.js';
import type { SlackServices } from '../../services.js';

const submissionSchema = z.looseObject({
  user: z.looseObject({ id: z.string(), team_id: z.string().optional() }),
  team: z.looseObject({ id: z.string() }).nullish(),
  view: z.looseObject({
    team_id: z.string().optional(),
    state: z.looseObject({
      values: z.record(z.string(), z.record(z.string(), z.looseObject({ selected_option: z.looseObject({ value: z.string() }).nullish() }))),
    }),
  }),
});

/** The trust editor was saved: apply each changed mode (the service re-checks admin and hard floor). */
export function trustEditSubmission(services: SlackServices) {
  return async ({ ack, body, client }: SlackViewMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    const parsed = submissionSchema.safeParse(body);
    if (!parsed.success) {
      await ack();
      return;
    }
    const teamId = parsed.data.team?.id ?? parsed.data.view.team_id ?? '';
    const userId = parsed.data.user.id;
    const wanted: Array<[string, TrustMode]> = [];
    for (const [blockId, fields] of Object.entries(parsed.data.view.state.values)) {
      const value = fields['mode']?.selected_option?.value;
      if (blockId.startsWith('mode:') && value && (TRUST_MODES as readonly string[]).includes(value)) wanted.push([blockId.slice(5), value as TrustMode]);
    }
    await ack();
    try {
      // Trust levels are the workspace's own: a submission from another organisation changes nothing.
      await services.control.authorizeTeamClick(teamId, clickerOf(parsed.data), 'trust_edit');
    } catch (err) {
      await client.chat.postMessage({ channel: userId, text: `:no_entry: ${errorMessage(err)}` }).catch(() => undefined);
      return;
    }
    const view = await services.trust.view(teamId);
    const changes: string[] = [];
    const problems: string[] = [];
    for (const [action, mode] of wanted) {
      if (view.rows.find((r) => r.actionType === action)?.mode === mode) continue;
      try {
        const r = await services.trust.setMode(teamId, userId, action, mode);
        changes.push(`${code(action).value}: ${r.before} → ${r.after}`);
      } catch (err) {
        problems.push(`${code(action).value}: ${isAppError(err) ? err.message : md`${errorMessage(err)}`.value}`);
      }
    }
    const text = [changes.length ? `Trust levels updated:\n${changes.join('\n')}` : 'No trust level changed.', ...problems].join('\n');
    await services.writes.dm(teamId, userId, md`${text}`).catch((err: unknown) => services.logger.warn({ err: errorMessage(err) }, 'could not confirm trust edit'));
  };
}
