import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The MCP_CONFIG file: the remote MCP servers an admin connects. Secrets (bearer tokens) stay in the
 * environment: a header value names a variable (`"Bearer ${TICKETS_TOKEN}"`) and is filled in when the
 * file is read, in memory only. Nothing of a header is ever written to the database or the logs.
 */

/**
 * Server names start every tool name (`<server>__<tool>`), so they use the Claude API's tool-name
 * characters, never contain the `__` separator and stay short enough to leave room for the tool's name.
 */
export const SERVER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_))*$/;
export const SERVER_NAME_MAX = 24;

/** Headers the transport sets itself: a config must not override them. */
const RESERVED_HEADERS = new Set(['content-type', 'accept', 'content-length', 'host', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const serverSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(SERVER_NAME_MAX, `must be at most ${SERVER_NAME_MAX} characters`)
      .regex(SERVER_NAME, 'may use letters, digits, - and single _ (tool names become <server>__<tool>), and must start with a letter or digit')
      .refine((n) => !n.endsWith('_'), 'must not end with _'),
    url: z.string().min(1),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .superRefine((headers, ctx) => {
        for (const [name, value] of Object.entries(headers)) {
          if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(name)} is not a valid header name`, path: [name] });
          else if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', message: `${name} is set by the MCP transport itself and cannot be configured`, path: [name] });
          if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: 'custom', message: 'must not contain line breaks', path: [name] });
        }
      }),
    enabled: z.boolean().default(true),
    /** How long one tool call may take before it counts as timed out. */
    timeoutSeconds: z.number().positive().max(600).default(30),
    /** How long connecting and listing tools may take (startup and refresh wait for at most this). */
    connectTimeoutSeconds: z.number().positive().max(120).default(10),
  })
  .strict();

export const mcpConfigFileSchema = z
  .object({ servers: z.array(serverSchema).max(50) })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.servers.forEach((s, i) => {
      const key = s.name.toLowerCase();
      if (seen.has(key)) ctx.addIssue({ code: 'custom', message: `the name ${s.name} is used twice`, path: ['servers', i, 'name'] });
      seen.add(key);
    });
  });

/** One server as the app uses it: variables filled in, URL parsed. */
export interface McpServerConfig {
  name: string;
  url: URL;
  /** Filled-in header values: secrets, kept in memory only. */
  headers: Record<string, string>;
  enabled: boolean;
  timeoutMs: number;
  connectTimeoutMs: number;
}

export interface McpConfig {
  /** The file it came from (shown to admins; re-read on refresh). */
  path: string;
  servers: McpServerConfig[];
}

export type McpConfigResult = { ok: true; config: McpConfig } | { ok: false; problems: string[] };

/** Fills in `${NAME}` from the environment; names missing or empty variables instead of sending "". */
function interpolate(text: string, env: Record<string, string | undefined>, missing: Set<string>): string {
  return text.replace(VARIABLE, (_all, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      missing.add(name);
      return '';
    }
    return value;
  });
}

function where(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** Validates the file's text; every problem is listed (an operator fixes them in one go). */
export function parseMcpConfig(text: string, path: string, env: Record<string, string | undefined>): McpConfigResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`${path} is not valid JSON (${err instanceof Error ? err.message : String(err)})`] };
  }
  const parsed = mcpConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `${path}: ${where(i.path) || '(file)'} ${i.message}`) };
  }
  const problems: string[] = [];
  const servers: McpServerConfig[] = [];
  parsed.data.servers.forEach((s, i) => {
    const missing = new Set<string>();
    // A disabled server may name variables that are not set: it is not used.
    const env2 = s.enabled ? env : {};
    const urlText = s.enabled ? interpolate(s.url, env2, missing) : s.url;
    const headers: Record<string, string> = {};
    if (s.enabled) for (const [name, value] of Object.entries(s.headers)) headers[name] = interpolate(value, env2, missing);
    for (const name of missing) problems.push(`${path}: servers[${i}] (${s.name}) uses \${${name}}, but the environment variable ${name} is not set`);
    let url: URL | undefined;
    try {
      url = new URL(urlText);
    } catch {
      if (s.enabled) problems.push(`${path}: servers[${i}].url must be an http:// or https:// URL`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${path}: servers[${i}].url must be an http:// or https:// URL`);
    if (url && (url.username || url.password)) problems.push(`${path}: servers[${i}].url must not carry a user or password: put credentials in headers, from environment variables`);
    servers.push({
      name: s.name,
      url: url ?? new URL('http://invalid.invalid/'),
      headers,
      enabled: s.enabled,
      timeoutMs: Math.round(s.timeoutSeconds * 1000),
      connectTimeoutMs: Math.round(s.connectTimeoutSeconds * 1000),
    });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: { path, servers } };
}

export function loadMcpConfig(path: string, env: Record<string, string | undefined>): McpConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = err && typeof err === 'object' && 'code' in err ? String(err.code) : '';
    return { ok: false, problems: [`${path} cannot be read${code === 'ENOENT' ? ' (no such file)' : code ? ` (${code})` : ''}`] };
  }
  return parseMcpConfig(text, path, env);
}

/** The server's address as shown to people: no query string (it may carry a key) and no credentials. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
