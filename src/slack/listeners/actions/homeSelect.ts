import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { errorMessage } from '../../../errors.js';
import { HOME_ACTION_IDS, HOME_BATCH_BLOCK } from '../../blocks/home.js';
import { plainText } from '../../blocks/text.js';

const optionSchema = z.looseObject({ value: z.string() });
const selectSchema = z.looseObject({
  view: z.looseObject({
    id: z.string(),
    hash: z.string().optional(),
    blocks: z.array(z.looseObject({ block_id: z.string().optional(), elements: z.array(z.looseObject({ action_id: z.string().optional(), options: z.array(optionSchema).optional() })).optional() })),
    state: z.looseObject({ values: z.record(z.string(), z.record(z.string(), z.looseObject({ selected_options: z.array(optionSchema).nullish() }))) }),
  }),
});

/**
 * Ticking a box relabels its group's button "Approve N selected". The view Slack echoes (the app's own
 * blocks) is updated with the ticks kept; `hash` makes Slack refuse it if a newer Home was published in
 * the meantime, which then stands (it is the current state). Nothing is decided here.
 */
export function homeSelectAction(logger: { warn: (o: object, m: string) => void }) {
  return async ({ ack, body, client }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const parsed = selectSchema.safeParse(body);
    if (!parsed.success) return;
    const { view } = parsed.data;
    const blocks = view.blocks.map((block) => {
      if (!block.block_id?.startsWith(HOME_BATCH_BLOCK) || !block.elements) return block;
      const picked = new Set((view.state.values[block.block_id]?.[HOME_ACTION_IDS.select]?.selected_options ?? []).map((o) => o.value));
      const elements = block.elements.map((e) => {
        if (e.action_id === HOME_ACTION_IDS.select) {
          const { initial_options: _drop, ...rest } = e as Record<string, unknown>;
          const initial = (e.options ?? []).filter((o) => picked.has(o.value));
          return initial.length > 0 ? { ...rest, initial_options: initial } : rest;
        }
        if (e.action_id === HOME_ACTION_IDS.approveSelected) return { ...e, text: plainText(picked.size > 0 ? `Approve ${picked.size} selected` : 'Approve selected', 75) };
        return e;
      });
      return { ...block, elements };
    });
    try {
      await client.views.update({ view_id: view.id, ...(view.hash ? { hash: view.hash } : {}), view: { type: 'home', blocks } as never });
    } catch (err) {
      // hash_conflict: a newer Home view was published since; it is the one to keep.
      logger.warn({ err: errorMessage(err) }, 'could not relabel the Home tab\'s "Approve selected"');
    }
  };
}
