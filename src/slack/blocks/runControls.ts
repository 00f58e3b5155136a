import { section, type BlockText } from './text.js';

export const RUN_ACTION_IDS = { raiseCap: 'run_raise_cap', stop: 'run_stop', retry: 'run_retry' } as const;

export function renderCapStop(text: BlockText, runId: string): Record<string, unknown>[] {
  return [
    section(text),
    {
      type: 'actions',
      block_id: `cap:${runId}`,
      elements: [
        { type: 'button', action_id: RUN_ACTION_IDS.raiseCap, style: 'primary', text: { type: 'plain_text', text: 'Raise cap and continue' }, value: runId },
        { type: 'button', action_id: RUN_ACTION_IDS.stop, text: { type: 'plain_text', text: 'Stop' }, value: runId },
      ],
    },
  ];
}

export function renderRetry(text: BlockText, runId: string): Record<string, unknown>[] {
  return [
    section(text),
    {
      type: 'actions',
      block_id: `retry:${runId}`,
      elements: [{ type: 'button', action_id: RUN_ACTION_IDS.retry, text: { type: 'plain_text', text: 'Retry' }, value: runId }],
    },
  ];
}

/**
 * After a button was used: the message's text stays (when Slack sent it back with the click), the buttons
 * go, and it says who did what. An empty original never becomes an empty section (Slack refuses those).
 */
export function renderResolved(original: BlockText, outcome: BlockText): Record<string, unknown>[] {
  const text = typeof original === 'string' ? original : original.value;
  return text.trim() === '' ? [section(outcome)] : [section(original), section(outcome)];
}
