import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/connection.js';
import type { RunStatus } from '../db/schema.js';
import { costBreakdown, type TokenUsage } from '../agent/pricing.js';
import type { MetricsSink } from './sink.js';

const RUN_STATUSES: RunStatus[] = ['running', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'stopped'];
/** Outbox rows still to be delivered (see src/slack/outbox/delivery.ts). */
const OUTBOX_OPEN = ['queued', 'sending', 'unknown'] as const;

/** Token kinds, each priced apart (cache reads and writes are not input). */
const TOKEN_KINDS = [
  ['input', 'inputTokens'],
  ['output', 'outputTokens'],
  ['cache_read', 'cacheReadTokens'],
  ['cache_write_5m', 'cacheWrite5mTokens'],
  ['cache_write_1h', 'cacheWrite1hTokens'],
] as const;

/**
 * The Prometheus metrics of one app instance, in a registry of its own. Counters and histograms count
 * what this process did since it started; gauges of state (runs, pending approvals, outbox depth) are
 * read from the database at each scrape, so they are the same whichever instance is asked.
 */
export class AppMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly approvals: Counter<'outcome'>;
  private readonly approvalWait: Histogram<'outcome'>;
  private readonly clickToDispatch: Histogram;
  private readonly modelCalls: Counter<'model' | 'outcome'>;
  private readonly tokens: Counter<'model' | 'kind'>;
  private readonly spend: Counter<'model' | 'kind'>;
  private readonly slackCalls: Counter<'method' | 'outcome'>;

  constructor(db: Db) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'agent_runs',
      help: 'Runs by status (all workspaces, from the database).',
      labelNames: ['status'],
      registers,
      async collect() {
        const rows = await db.selectFrom('runs').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
        const byStatus = new Map(rows.map((r) => [r.status, Number(r.n)]));
        for (const s of RUN_STATUSES) this.set({ status: s }, byStatus.get(s) ?? 0);
      },
    });
    new Gauge({
      name: 'agent_pending_approvals',
      help: 'Approval cards waiting for a decision, per workspace (Slack team id).',
      labelNames: ['team_id'],
      registers,
      async collect() {
        const rows = await db.selectFrom('actions').select(['team_id', (eb) => eb.fn.countAll<number>().as('n')]).where('status', '=', 'pending').groupBy('team_id').execute();
        // A workspace whose queue emptied must read 0, not keep its last value.
        this.reset();
        for (const r of rows) this.set({ team_id: r.team_id }, Number(r.n));
      },
    });
    new Gauge({
      name: 'agent_slack_outbox_depth',
      help: 'Slack messages queued in the outbox and not yet delivered, by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        const rows = await db.selectFrom('slack_outbox').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).where('status', 'in', [...OUTBOX_OPEN]).groupBy('status').execute();
        const byStatus = new Map(rows.map((r) => [r.status, Number(r.n)]));
        for (const s of OUTBOX_OPEN) this.set({ state: s }, byStatus.get(s) ?? 0);
      },
    });

    this.approvals = new Counter({ name: 'agent_approvals_decided_total', help: 'Approval cards decided by a person, by outcome.', labelNames: ['outcome'], registers });
    this.approvalWait = new Histogram({
      name: 'agent_approval_wait_seconds',
      help: 'Time from a card being proposed to its decision.',
      labelNames: ['outcome'],
      buckets: [5, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
      registers,
    });
    this.clickToDispatch = new Histogram({
      name: 'agent_click_to_dispatch_seconds',
      help: 'Time from an Approve click being recorded to the approved action starting to execute.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.modelCalls = new Counter({ name: 'agent_model_calls_total', help: 'Claude API calls, by model and outcome (ok or error).', labelNames: ['model', 'outcome'], registers });
    this.tokens = new Counter({
      name: 'agent_model_tokens_total',
      help: 'Tokens billed, by model and kind (input, output, cache_read, cache_write_5m, cache_write_1h).',
      labelNames: ['model', 'kind'],
      registers,
    });
    this.spend = new Counter({ name: 'agent_model_spend_usd_total', help: 'Spend in USD at the dated price table, by model and token kind.', labelNames: ['model', 'kind'], registers });
    this.slackCalls = new Counter({
      name: 'agent_slack_calls_total',
      help: 'Slack Web API calls of the outbox, by method and outcome (ok, rate_limited: HTTP 429, error).',
      labelNames: ['method', 'outcome'],
      registers,
    });
  }

  approvalDecided(outcome: 'approved' | 'rejected', waitSeconds: number): void {
    this.approvals.inc({ outcome });
    this.approvalWait.observe({ outcome }, Math.max(0, waitSeconds));
  }

  dispatchStarted(seconds: number): void {
    this.clickToDispatch.observe(Math.max(0, seconds));
  }

  modelCall(model: string, outcome: 'ok' | 'error', usage?: TokenUsage): void {
    this.modelCalls.inc({ model, outcome });
    if (!usage) return;
    const cost = costBreakdown(model, usage);
    for (const [kind, field] of TOKEN_KINDS) {
      if (usage[field] === 0) continue;
      this.tokens.inc({ model, kind }, usage[field]);
      this.spend.inc({ model, kind }, cost[field]);
    }
  }

  slackCall(method: string, outcome: 'ok' | 'rate_limited' | 'error'): void {
    this.slackCalls.inc({ method, outcome });
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
