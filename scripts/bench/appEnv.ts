/**
 * The environment the bench gives the app: the loopback fakes of `world`, a SQLite file, caps and queue
 * limits out of the way of the bench's bursts, and the `--app-env` overrides last. The tracing
 * diagnostics (`traceApp.ts`) use it too, so they trace the app the bench measures.
 */
import { join } from 'node:path';
import type { BenchOptions } from './options.js';
import { BOT_TOKEN, SIGNING_SECRET, type World } from './world.js';

/** The Claude API key the app is given; the fake Claude accepts any. */
export const API_KEY = 'sk-bench';

export function appEnv(world: World, dir: string, dbPath: string, o: Pick<BenchOptions, 'concurrency' | 'appEnv'>): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: world.slack.url,
    SLACK_APP_TOKEN: '',
    PORT: '0',
    ANTHROPIC_API_KEY: API_KEY,
    ANTHROPIC_BASE_URL: world.claude.url,
    ANTHROPIC_MODEL: 'claude-sonnet-5-5',
    DATABASE_PATH: dbPath,
    SMTP_URL: world.smtpUrl,
    EMAIL_FROM: '',
    APPROVALS_CHANNEL: '',
    ADMIN_USER_IDS: '',
    KNOWLEDGE_DIR: join(dir, 'knowledge'),
    // Spend caps are per run, per requester per day and per workspace per day; the bench's one requester
    // spends far more in a few minutes than a person does in a day.
    RUN_COST_CAP_USD: '5',
    USER_DAY_CAP_USD: '10000',
    WORKSPACE_DAY_CAP_USD: '10000',
    // The app refuses to queue approvals past APPROVAL_QUEUE_STOP_AT (by design); keep the bench's own
    // bursts below it.
    APPROVAL_QUEUE_WARN_AT: '100',
    APPROVAL_QUEUE_STOP_AT: String(Math.max(500, o.concurrency * 2)),
    LOG_LEVEL: 'silent',
    ...o.appEnv,
  };
}
