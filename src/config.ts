import { z } from 'zod';
import { AppError } from './errors.js';

/**
 * The runtime contract's environment (see README / .env.sample). Validated once at startup; every problem
 * is reported together so an operator fixes them in one go instead of one restart per variable.
 */
const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

const usd = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().positive().max(100_000).default(fallback));
const positiveInt = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().positive().default(fallback));

const slackUserId = /^[UW][A-Z0-9]{2,}$/;

function isPostgresUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
  } catch {
    return false;
  }
}
const postgresUrl = z.preprocess(
  emptyToUndefined,
  z.string().refine(isPostgresUrl, 'must be a postgres://user:password@host:5432/database URL').optional(),
);
const channelId = /^[CGD][A-Z0-9]{2,}$/;

export const envSchema = z
  .object({
    SLACK_BOT_TOKEN: z.preprocess(
      emptyToUndefined,
      z.string({ error: 'is required (the bot token, xoxb-...)' }).startsWith('xoxb-', 'must start with xoxb-'),
    ),
    SLACK_SIGNING_SECRET: optionalString,
    SLACK_APP_TOKEN: z.preprocess(emptyToUndefined, z.string().startsWith('xapp-', 'must start with xapp-').optional()),
    SLACK_API_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).optional()),
    PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
    METRICS_PORT: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .trim()
        .regex(/^\d{1,5}$/, 'must be a port number (0-65535)')
        .transform(Number)
        .refine((n) => n <= 65535, 'must be a port number (0-65535)')
        .optional(),
    ),
    ANTHROPIC_API_KEY: z.preprocess(emptyToUndefined, z.string({ error: 'is required (the Claude API key)' })),
    ANTHROPIC_BASE_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).optional()),
    ANTHROPIC_MODEL: z.preprocess(emptyToUndefined, z.string().default('claude-sonnet-5-5')),
    DATABASE_PATH: z.preprocess(emptyToUndefined, z.string().default('./data/agent.db')),
    DATABASE_URL: postgresUrl,
    APPROVALS_CHANNEL: z.preprocess(
      emptyToUndefined,
      z.string().regex(channelId, 'must be a channel ID such as C0123ABCD').optional(),
    ),
    ADMIN_USER_IDS: z.preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : []),
      z.array(z.string().regex(slackUserId, 'must be Slack user IDs such as U0123ABCD, comma-separated')),
    ),
    SMTP_URL: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
        .optional(),
    ),
    EMAIL_FROM: optionalString,
    KNOWLEDGE_DIR: z.preprocess(emptyToUndefined, z.string().default('./knowledge')),
    RUN_COST_CAP_USD: usd(0.5),
    USER_DAY_CAP_USD: usd(5),
    WORKSPACE_DAY_CAP_USD: usd(25),
    RUN_MAX_TURNS: positiveInt(25),
    MAX_CONCURRENT_RUNS: positiveInt(10),
    APPROVAL_QUEUE_WARN_AT: positiveInt(100),
    APPROVAL_QUEUE_STOP_AT: positiveInt(500),
    EMAIL_SENDER_MODE: z.preprocess(emptyToUndefined, z.enum(['requester', 'shared']).default('requester')),
    WHATSAPP_TOKEN: optionalString,
    WHATSAPP_PHONE_NUMBER_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d+$/, 'must be the numeric phone number ID from Meta').optional()),
    WHATSAPP_API_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).default('https://graph.facebook.com/v21.0')),
    HUBSPOT_TOKEN: optionalString,
    HUBSPOT_API_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).default('https://api.hubapi.com')),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    ),
  });

/**
 * Checks that involve several variables. Kept outside the object schema because zod skips object
 * refinements when any field is invalid, and the operator should see every problem at once.
 */
function crossFieldProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  if (!set('SLACK_APP_TOKEN') && !set('SLACK_SIGNING_SECRET')) {
    problems.push('  - SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN to use Socket Mode)');
  }
  if (set('WHATSAPP_TOKEN') !== set('WHATSAPP_PHONE_NUMBER_ID')) {
    problems.push('  - WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID must be set together (or neither)');
  }
  if ((env['EMAIL_SENDER_MODE'] ?? '').trim() === 'shared' && !set('EMAIL_FROM')) {
    problems.push('  - EMAIL_FROM is required when EMAIL_SENDER_MODE=shared');
  }
  const metricsPort = (env['METRICS_PORT'] ?? '').trim();
  if (metricsPort !== '' && metricsPort !== '0' && metricsPort === (env['PORT'] ?? '3000').trim()) {
    problems.push('  - METRICS_PORT must differ from PORT (metrics are served on their own port)');
  }
  const warn = Number(env['APPROVAL_QUEUE_WARN_AT'] || 100);
  const stop = Number(env['APPROVAL_QUEUE_STOP_AT'] || 500);
  if (Number.isFinite(warn) && Number.isFinite(stop) && warn > stop) {
    problems.push('  - APPROVAL_QUEUE_WARN_AT must not be larger than APPROVAL_QUEUE_STOP_AT');
  }
  return problems;
}

export type Env = z.infer<typeof envSchema>;

export interface Config {
  slack: {
    botToken: string;
    signingSecret: string | undefined;
    appToken: string | undefined;
    apiUrl: string | undefined;
    port: number;
  };
  anthropic: { apiKey: string; baseUrl: string | undefined; model: string };
  databasePath: string;
  /** Set: PostgreSQL at this URL (DATABASE_PATH is then unused). */
  databaseUrl: string | undefined;
  approvalsChannel: string | undefined;
  adminUserIds: string[];
  smtpUrl: string | undefined;
  emailFrom: string | undefined;
  emailSenderMode: 'requester' | 'shared';
  whatsapp: { token: string; phoneNumberId: string; apiUrl: string } | undefined;
  hubspot: { token: string; apiUrl: string } | undefined;
  knowledgeDir: string;
  caps: { runUsd: number; userDayUsd: number; workspaceDayUsd: number; turns: number };
  maxConcurrentRuns: number;
  queue: { warnAt: number; stopAt: number };
  logLevel: Env['LOG_LEVEL'];
  /** Set: Prometheus metrics on GET /metrics at this port (0: any free port). */
  metricsPort: number | undefined;
}

/** Parses the environment; throws one AppError('config_invalid') naming every bad or missing variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const extra = crossFieldProblems(env);
  if (!parsed.success || extra.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues;
    const lines = issues.map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      const msg =
        issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined
          ? issue.message.startsWith('is required')
            ? issue.message
            : 'is required'
          : issue.message;
      return `  - ${name} ${msg}`;
    });
    lines.push(...extra);
    // One line per variable is enough, even when a list variable has several bad entries.
    lines.splice(0, lines.length, ...new Set(lines));
    throw new AppError(
      'config_invalid',
      `Cannot start: the environment is incomplete or invalid.\n${lines.join('\n')}\n` +
        'Set these variables (see .env.sample and the README) and start again.',
    );
  }
  const e = parsed.data as Env;
  return {
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
      port: e.PORT,
    },
    anthropic: { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL, model: e.ANTHROPIC_MODEL },
    databasePath: e.DATABASE_PATH,
    databaseUrl: e.DATABASE_URL,
    approvalsChannel: e.APPROVALS_CHANNEL,
    adminUserIds: e.ADMIN_USER_IDS,
    smtpUrl: e.SMTP_URL,
    emailFrom: e.EMAIL_FROM,
    emailSenderMode: e.EMAIL_SENDER_MODE,
    whatsapp:
      e.WHATSAPP_TOKEN && e.WHATSAPP_PHONE_NUMBER_ID
        ? { token: e.WHATSAPP_TOKEN, phoneNumberId: e.WHATSAPP_PHONE_NUMBER_ID, apiUrl: e.WHATSAPP_API_URL }
        : undefined,
    hubspot: e.HUBSPOT_TOKEN ? { token: e.HUBSPOT_TOKEN, apiUrl: e.HUBSPOT_API_URL } : undefined,
    knowledgeDir: e.KNOWLEDGE_DIR,
    caps: { runUsd: e.RUN_COST_CAP_USD, userDayUsd: e.USER_DAY_CAP_USD, workspaceDayUsd: e.WORKSPACE_DAY_CAP_USD, turns: e.RUN_MAX_TURNS },
    maxConcurrentRuns: e.MAX_CONCURRENT_RUNS,
    queue: { warnAt: e.APPROVAL_QUEUE_WARN_AT, stopAt: e.APPROVAL_QUEUE_STOP_AT },
    logLevel: e.LOG_LEVEL,
    metricsPort: e.METRICS_PORT,
  };
}

const databaseEnvSchema = envSchema.pick({ DATABASE_PATH: true, DATABASE_URL: true });

/**
 * Only the database settings, for scripts (migrate, index-knowledge, export-audit) that need no Slack or
 * Claude credentials. Same rules and messages as loadConfig.
 */
export function loadDatabaseSettings(env: Record<string, string | undefined>): { databasePath: string; databaseUrl: string | undefined } {
  const parsed = databaseEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  - ${String(issue.path[0])} ${issue.message}`);
    throw new AppError('config_invalid', `Invalid database settings:\n${lines.join('\n')}`);
  }
  return { databasePath: parsed.data.DATABASE_PATH, databaseUrl: parsed.data.DATABASE_URL };
}
