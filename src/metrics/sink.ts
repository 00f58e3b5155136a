import type { TokenUsage } from '../agent/pricing.js';

/**
 * What the app reports to its metrics, as events. The agent and Slack layers know only this interface
 * (no metrics library); without METRICS_PORT nothing is recorded at all.
 *
 * Nothing here carries user content: labels are models, Slack method names, outcomes and workspace ids.
 */
export interface MetricsSink {
  /** A person approved or rejected a card, `waitSeconds` after it was proposed. */
  approvalDecided(outcome: 'approved' | 'rejected', waitSeconds: number): void;
  /** An action a person approved started executing, this long after the click was recorded. */
  dispatchStarted(clickToDispatchSeconds: number): void;
  /** A model call; usage when it answered. */
  modelCall(model: string, outcome: 'ok' | 'error', usage?: TokenUsage): void;
  /** One Web API call of the Slack outbox. */
  slackCall(method: string, outcome: 'ok' | 'rate_limited' | 'error'): void;
}
