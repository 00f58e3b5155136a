import { z } from 'zod';
import { AppError } from './errors.js';
import { loadMcpConfig } from './connectors/mcp/config.js';

/**
 * The runtime contract's environment (see docs/operations.md / .env.sample). Validated once at startup; every problem
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

const ENCRYPTION_KEY_HINT = 'must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)';
/** Strict base64 of exactly 32 bytes: a typo must not silently become a different (shorter) key. */
function isEncryptionKey(v: string): boolean {
  const t = v.trim();
  return /^[A-Za-z0-9+/]{43}=$/.test(t) && Buffer.from(t, 'base64').length === 32;
}
const OAUTH_VARIABLES = ['SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET'] as const;

export const envSchema = z
  .object({
    // Required unless the OAuth variables are set (checked in crossFieldProblems, with one message).
    SLACK_BOT_TOKEN: z.preprocess(emptyToUndefined, z.string().startsWith('xoxb-', 'must start with xoxb-').optional()),
    SLACK_CLIENT_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d+\.\d+$/, 'must be the app\'s Client ID (digits.digits, Basic Information -> App Credentials)').optional()),
    SLACK_CLIENT_SECRET: optionalString,
    SLACK_STATE_SECRET: z.preprocess(emptyToUndefined, z.string().min(16, 'must be at least 16 characters (a long random string)').optional()),
    SLACK_TOKEN_ENCRYPTION_KEY: z.preprocess(emptyToUndefined, z.string().refine(isEncryptionKey, ENCRYPTION_KEY_HINT).optional()),
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
    RUN_LEASE_SECONDS: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .default('30')
        .refine((v) => /^\d+$/.test(v.trim()), 'must be a whole number of seconds')
        .transform((v) => Number(v))
        .refine((n) => n >= 2, 'must be at least 2')
        .refine((n) => n <= 3600, 'must be at most 3600'),
    ),
    APPROVAL_QUEUE_WARN_AT: positiveInt(100),
    APPROVAL_QUEUE_STOP_AT: positiveInt(500),
    EMAIL_SENDER_MODE: z.preprocess(emptyToUndefined, z.enum(['requester', 'shared']).default('requester')),
    WHATSAPP_TOKEN: optionalString,
    WHATSAPP_PHONE_NUMBER_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d+$/, 'must be the numeric phone number ID from Meta').optional()),
    WHATSAPP_API_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).default('https://graph.facebook.com/v21.0')),
    HUBSPOT_TOKEN: optionalString,
    HUBSPOT_API_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).default('https://api.hubapi.com')),
    MCP_CONFIG: optionalString,
    THREAD_CONTEXT_MAX_MESSAGES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(200).default(20)),
    THREAD_CONTEXT_MAX_CHARS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(500).max(100_000).default(8000)),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    ),
  });

/**
 * How the app authenticates to Slack: one bot token (one workspace) or OAuth installs (many). Listed first
 * in the startup message, since nothing works without it.
 */
function slackAuthProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const oauthSet = OAUTH_VARIABLES.filter(set);
  const oauth = oauthSet.length > 0;
  if (oauth && oauthSet.length < OAUTH_VARIABLES.length) {
    const missing = OAUTH_VARIABLES.filter((n) => !set(n));
    problems.push(`  - ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required with ${oauthSet.join(', ')}: set ${OAUTH_VARIABLES.join(', ')} together to install into many workspaces (OAuth), or none of them`);
  }
  if (!oauth && !set('SLACK_BOT_TOKEN')) {
    problems.push(`  - SLACK_BOT_TOKEN is required (the bot token, xoxb-...), or set ${OAUTH_VARIABLES.join(', ')} and SLACK_TOKEN_ENCRYPTION_KEY to install into many workspaces (OAuth)`);
  }
  if (oauth && set('SLACK_BOT_TOKEN')) {
    problems.push('  - SLACK_BOT_TOKEN must not be set together with the OAuth variables: choose one workspace with a bot token, or OAuth installs (each workspace gets its own token)');
  }
  if (oauth && !set('SLACK_TOKEN_ENCRYPTION_KEY')) {
    problems.push(`  - SLACK_TOKEN_ENCRYPTION_KEY is required with OAuth installs (it encrypts the stored workspace tokens): ${ENCRYPTION_KEY_HINT}`);
  }
  if (oauth && set('SLACK_APP_TOKEN')) {
    problems.push('  - SLACK_APP_TOKEN (Socket Mode) cannot be combined with OAuth installs: the install pages need HTTP mode (unset SLACK_APP_TOKEN and set SLACK_SIGNING_SECRET)');
  }
  if (oauth && set('APPROVALS_CHANNEL')) {
    problems.push('  - APPROVALS_CHANNEL cannot be used with OAuth installs (a channel belongs to one workspace): each workspace chooses with `/agent trust route #channel`');
  }
  return problems;
}

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
  // The MCP server file is part of the configuration: its problems are listed with the variables'.
  if (set('MCP_CONFIG')) {
    const mcp = loadMcpConfig(String(env['MCP_CONFIG']).trim(), env);
    if (!mcp.ok) problems.push(...mcp.problems.map((p) => `  - MCP_CONFIG: ${p}`));
  }
  return problems;
}

export type Env = z.infer<typeof envSchema>;

/** OAuth distribution: Bolt serves /slack/install and /slack/oauth_redirect; tokens live in the database. */
export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  stateSecret: string;
  /** 32 bytes: AES-256-GCM key for the stored tokens. */
  tokenEncryptionKey: Buffer;
}

export interface Config {
  slack: {
    /** Single-workspace mode; undefined when `oauth` is set. */
    botToken: string | undefined;
    oauth: OAuthConfig | undefined;
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
  /**
   * MCP_CONFIG: the server file and the environment its `${VARIABLE}`s are filled from (refresh reads the
   * file again). Unset: no MCP tools.
   */
  mcp: { path: string; env: Record<string, string | undefined> } | undefined;
  knowledgeDir: string;
  caps: { runUsd: number; userDayUsd: number; workspaceDayUsd: number; turns: number };
  maxConcurrentRuns: number;
  /** How long a run's lease lasts without a heartbeat: the longest a dead instance's runs wait. */
  runLeaseSeconds: number;
  queue: { warnAt: number; stopAt: number };
  /** Earlier thread messages given to a run started by a mention inside a thread. */
  threadContext: { maxMessages: number; maxChars: number };
  logLevel: Env['LOG_LEVEL'];
  /** Set: Prometheus metrics on GET /metrics at this port (0: any free port). */
  metricsPort: number | undefined;
}

/** Parses the environment; throws one AppError('config_invalid') naming every bad or missing variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const auth = slackAuthProblems(env);
  const extra = crossFieldProblems(env);
  if (!parsed.success || extra.length > 0 || auth.length > 0) {
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
    lines.unshift(...auth);
    lines.push(...extra);
    // One line per variable is enough, even when a list variable has several bad entries.
    lines.splice(0, lines.length, ...new Set(lines));
    throw new AppError(
      'config_invalid',
      `Cannot start: the environment is incomplete or invalid.\n${lines.join('\n')}\n` +
        'Set these variables (see .env.sample and docs/operations.md) and start again.',
    );
  }
  const e = parsed.data as Env;
  return {
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      oauth:
        e.SLACK_CLIENT_ID && e.SLACK_CLIENT_SECRET && e.SLACK_STATE_SECRET && e.SLACK_TOKEN_ENCRYPTION_KEY
          ? {
              clientId: e.SLACK_CLIENT_ID,
              clientSecret: e.SLACK_CLIENT_SECRET,
              stateSecret: e.SLACK_STATE_SECRET,
              tokenEncryptionKey: Buffer.from(e.SLACK_TOKEN_ENCRYPTION_KEY.trim(), 'base64'),
            }
          : undefined,
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
    mcp: e.MCP_CONFIG ? { path: e.MCP_CONFIG.trim(), env: { ...env } } : undefined,
    knowledgeDir: e.KNOWLEDGE_DIR,
    caps: { runUsd: e.RUN_COST_CAP_USD, userDayUsd: e.USER_DAY_CAP_USD, workspaceDayUsd: e.WORKSPACE_DAY_CAP_USD, turns: e.RUN_MAX_TURNS },
    maxConcurrentRuns: e.MAX_CONCURRENT_RUNS,
    runLeaseSeconds: e.RUN_LEASE_SECONDS,
    queue: { warnAt: e.APPROVAL_QUEUE_WARN_AT, stopAt: e.APPROVAL_QUEUE_STOP_AT },
    threadContext: { maxMessages: e.THREAD_CONTEXT_MAX_MESSAGES, maxChars: e.THREAD_CONTEXT_MAX_CHARS },
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
