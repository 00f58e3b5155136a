import { section } from './text.js';

export const RUN_ACTION_IDS = { raiseCap: 'run_raise_cap', stop: 'run_stop', retry: 'run_retry' } as const;

export function renderCapStop(text: string, runId: string): Record<string, unknown>[] {
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

export function renderRetry(text: string, runId: string): Record<string, unknown>[] {
  return [
    section(text),
    {
      type: 'actions',
      block_id: `retry:${runId}`,
      elements: [{ type: 'button', action_id: RUN_ACTION_IDS.retry, text: { type: 'plain_text', text: 'Retry' }, value: runId }],
    },
  ];
}

/** After a button was used: the text stays, the buttons go, and it says who did what. */
export function renderResolved(text: string, outcome: string): Record<string, unknown>[] {
  return [section(text), section(outcome)];
}
