/**
 * A loopback fake of Slack's Web API, for driving the app through `SLACK_API_URL`.
 *
 * It speaks the wire format @slack/web-api's WebClient uses (form-encoded POSTs to `<url><method>`, objects
 * such as `blocks` JSON-stringified, the token in `Authorization: Bearer`) and answers like Slack does:
 * HTTP 200 with `{ ok: false, error }` for platform errors, 429 + Retry-After for rate limits. It keeps a
 * message store that models what people would see, and enforces the Block Kit limits that bite in
 * production, so a test fails here instead of in a customer's workspace.
 *
 * Where Slack is lenient but lenience would hide an app bug, the fake is stricter (documented inline).
 *
 * Slack's rate limits are opt-in (`rateLimits`, see fakeSlackRateLimits.ts); reading messages back
 * (metadata, oldest/latest, cursors) follows fakeSlackHistory.ts.
 *
 * Several workspaces: `addWorkspace` (or an OAuth install, see fakeSlackOAuth.ts) adds a team with its own
 * bot token. Each call acts as the workspace its token belongs to (its bot user posts, auth.test names it,
 * rate limits are counted per workspace), and a channel or user given a `team` is invisible to the others
 * (`channel_not_found`, `user_not_found`), as in Slack: a call made with the wrong workspace's token fails.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkMetadata, readTimeline, timelinePage } from './fakeSlackHistory.js';
import type { MessageMetadata } from './fakeSlackHistory.js';
import { FakeSlackRateLimiter, resolveRateLimits } from './fakeSlackRateLimits.js';
import type { FakeSlackRateLimitsOption } from './fakeSlackRateLimits.js';
import { createFakeOAuth } from './fakeSlackOAuth.js';
import type { FakeOAuthWorkspace, FakeSlackOAuth, FakeSlackOAuthOptions } from './fakeSlackOAuth.js';

export { DEFAULT_RATE_LIMITS, SLACK_TIER_2, SLACK_TIER_3, SLACK_TIER_4 } from './fakeSlackRateLimits.js';
export type { FakeSlackRateLimitConfig, FakeSlackRateLimitsOption } from './fakeSlackRateLimits.js';
export type { MessageMetadata } from './fakeSlackHistory.js';
export type { FakeSlackOAuth, FakeSlackOAuthOptions } from './fakeSlackOAuth.js';

export interface FakeSlackOptions {
  botToken?: string;
  teamId?: string;
  botUserId?: string;
  latencyMs?: number;
  /**
   * Slack's rate limits for this workspace: `false` (the default) answers everything at once, `true`
   * enforces DEFAULT_RATE_LIMITS, an object overrides parts of them.
   */
  rateLimits?: FakeSlackRateLimitsOption;
  /** The clock of the rate limiter and of token expiry, in ms; tests pass their own to move time without sleeping. */
  now?: () => number;
  /** Socket Mode: the app-level token (`xapp-...`) apps.connections.open accepts. */
  appToken?: string;
  /** Socket Mode: hands out the WebSocket URL apps.connections.open answers with (e.g. a fakeSocketMode's). */
  socketModeUrl?: () => string;
  /** OAuth installs: the app's client id and secret (enables `oauth` and `oauth.v2.access`). */
  oauth?: FakeSlackOAuthOptions;
}

/** Another workspace the fake serves, with its own bot token. */
export interface FakeSlackWorkspace {
  teamId: string;
  teamName?: string;
  botToken: string;
  botUserId?: string;
  botId?: string;
}

export interface FakeSlackCall {
  method: string;
  args: Record<string, unknown>;
  /** Date.now() when the fake answered. */
  at: number;
  /** Every attempt is recorded, failed ones too; these say how it was answered. */
  ok: boolean;
  error?: string;
  /** Set when the fake performed the call's effect but then answered with a failure (`afterEffect`). */
  performed?: true;
  /** The workspace whose token the call carried (unset when it carried none the fake knows). */
  team?: string;
}

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  /** Set on replies only (normalised to the thread's parent, as Slack does). */
  thread_ts?: string;
  user: string;
  bot_id?: string;
  text: string;
  blocks?: unknown[];
  metadata?: MessageMetadata;
  reply_broadcast?: boolean;
  /** Earlier versions, oldest first, so a test can see what a card showed before it was updated. */
  history: Array<{ text: string; blocks?: unknown[]; at: number }>;
  deleted: boolean;
}

export interface FakeSlackEphemeral {
  channel: string;
  user: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  via: 'chat.postEphemeral' | 'response_url';
}

/** A status set (or cleared with '') under an AI-surface thread. */
export interface FakeThreadStatus {
  channel: string;
  threadTs: string;
  status: string;
  at: number;
}

export interface FakeSuggestedPrompts {
  channel: string;
  threadTs: string;
  title: string | undefined;
  prompts: Array<{ title: string; message: string }>;
}

export interface FakeSlackView {
  id: string;
  type: string;
  callback_id?: string;
  private_metadata?: string;
  external_id?: string;
  title?: unknown;
  blocks: unknown[];
  hash: string;
  root_view_id: string;
  previous_view_id: string | null;
  /** Set for App Home views (views.publish). */
  user_id?: string;
  /** The raw view object as last sent by the app. */
  raw: Record<string, unknown>;
  history: Array<Record<string, unknown>>;
}

export interface FakeSlackUser {
  id: string;
  name: string;
  real_name: string;
  email?: string;
  is_admin?: boolean;
  is_owner?: boolean;
  tz?: string;
  /** The user's workspace: other workspaces' tokens get `user_not_found`. Unset: visible to all. */
  team?: string;
}

export interface FakeSlackChannelState {
  name?: string;
  is_member?: boolean;
  is_archived?: boolean;
  /** false: every method naming this channel answers `channel_not_found`. */
  exists?: boolean;
  /** The channel's workspace: other workspaces' tokens get `channel_not_found`. Unset: visible to all. */
  team?: string;
  /** Who is in the channel (conversations.members). Unset: every user the fake knows in the workspace. */
  members?: string[];
  /** A private channel: conversations.members answers `channel_not_found` unless the bot is in it. */
  is_private?: boolean;
}

/**
 * An injected failure for the next call(s) of a method. Without `afterEffect` the call has no effect.
 * With `afterEffect: true` the fake performs the call (stores the message, applies the update...) and
 * only then answers the HTTP error or drops the connection: Slack's "it's possible some aspect of the
 * operation succeeded" case, where a client that retries posts twice. An after-effect failure waits for
 * the next call the rate limiter lets through and applies whatever that call's platform outcome.
 */
export type FakeSlackFailure =
  | { error: string }
  | { status: 429; retryAfter: number }
  | { status: 500 | 502 | 503 | 504; afterEffect?: boolean }
  /** Destroys the socket without answering; the client sees a network error. */
  | { drop: true; afterEffect?: boolean };

export interface FakeSlackRateStats {
  /** 429s answered, per method: the rate limiter's and injected ones. */
  ratelimited: Record<string, number>;
  ratelimitedTotal: number;
  /** chat.postMessage 429s per (resolved) channel id. */
  ratelimitedPostsByChannel: Record<string, number>;
  /** Calls the method handler processed (passed auth and the limiter), whatever their platform outcome. */
  accepted: Record<string, number>;
  acceptedTotal: number;
}

export interface ResponseUrlContext {
  channel: string;
  userId: string;
  /** The message the interaction came from: lets `replace_original` / `delete_original` work. */
  messageTs?: string;
}

export interface FakeSlack {
  /** Ends with `/api/`: pass as `slackApiUrl` / `SLACK_API_URL`. */
  url: string;
  /** `http://127.0.0.1:PORT`, for response URLs and anything not under /api/. */
  origin: string;
  botToken: string;
  teamId: string;
  botUserId: string;
  botId: string;
  calls: FakeSlackCall[];
  callsTo(method: string): Record<string, unknown>[];
  waitFor(
    method: string,
    predicate?: (args: Record<string, unknown>, call: FakeSlackCall) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  waitForCount(method: string, n: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;

  message(channel: string, ts: string): FakeSlackMessage | undefined;
  threadReplies(channel: string, threadTs: string): FakeSlackMessage[];
  channelMessages(channel: string): FakeSlackMessage[];
  ephemerals(userId?: string): FakeSlackEphemeral[];
  /** Statuses set under AI-surface threads, oldest first. */
  threadStatuses(channel?: string, threadTs?: string): FakeThreadStatus[];
  suggestedPrompts(): FakeSuggestedPrompts[];
  /** Put a message in the store as if a person wrote it (the bot cannot update it). Returns its ts. */
  seedMessage(msg: { channel: string; user: string; text: string; thread_ts?: string }): string;
  /** The DM channel id the fake uses when the app posts to a user id. */
  dmChannel(userId: string): string;

  views: FakeSlackView[];
  view(id: string): FakeSlackView | undefined;
  homeView(userId: string): FakeSlackView | undefined;
  expireTrigger(triggerId: string): void;

  addUser(user: FakeSlackUser): void;
  addUserGroup(id: string, userIds: string[]): void;
  setChannel(id: string, state: FakeSlackChannelState): void;

  /** A loopback response_url (5 uses, like Slack's) bound to where the interaction happened. */
  responseUrl(ctx: ResponseUrlContext): string;

  failNext(method: string, failure: FakeSlackFailure, times?: number): void;
  setLatency(ms: number): void;

  /** A snapshot of the rate-limit counters since the start (or the last resetRateStats). */
  rateStats(): FakeSlackRateStats;
  resetRateStats(): void;
  /** Switches the limits (same values as the `rateLimits` option); budgets start afresh. */
  setRateLimits(rateLimits: FakeSlackRateLimitsOption): void;

  /** Serves another workspace: calls with its token act as it. */
  addWorkspace(ws: FakeSlackWorkspace): void;
  /** The workspace's bot user (the default one's is `botUserId`). */
  workspaceBotUserId(teamId: string): string | undefined;
  /** Slack revokes every token of the workspace (the app was uninstalled there): calls get `token_revoked`. */
  revokeWorkspace(teamId: string): void;
  /** Set with the `oauth` option: the authorize page and the tokens handed out. */
  oauth: FakeSlackOAuth | undefined;
  close(): Promise<void>;
}

/** Slack's documented Block Kit limits, plus the reported ~13k total that yields msg_blocks_too_long. */
const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  sectionField: 2000,
  sectionFields: 10,
  header: 150,
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  id: 255,
  actionsElements: 25,
  contextElements: 10,
  inputLabel: 2000,
  plainTextInput: 3000,
  markdownBlock: 12000,
  totalBlockText: 13000,
  messageText: 40000,
  viewTitle: 24,
  privateMetadata: 3000,
} as const;

const RESPONSE_URL_USES = 5;

/** Form fields WebClient JSON-stringifies; parsed back so tests see what the app passed. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata', 'user_auth_blocks', 'prompts']);
const BOOLEAN_FIELDS = new Set([
  'reply_broadcast',
  'unfurl_links',
  'unfurl_media',
  'mrkdwn',
  'as_user',
  'link_names',
  'include_all_metadata',
  'inclusive',
  'include_locale',
  'include_num_members',
]);

type Json = Record<string, unknown>;
type Result = Json & { ok: boolean; error?: string };

class SlackFail extends Error {
  constructor(
    readonly code: string,
    readonly details: string[] = [],
  ) {
    super(code);
  }
}

function fail(code: string, details: string[] = []): never {
  throw new SlackFail(code, details);
}

function str(args: Json, key: string): string | undefined {
  const v = args[key];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------
// Block Kit validation. Messages use Slack's `[ERROR] ... [json-pointer:/blocks/0/text]` format.
// ---------------------------------------------------------------------------------------------------

interface BlockCheck {
  problems: string[];
  totalText: number;
}

function problem(c: BlockCheck, path: string, msg: string): void {
  c.problems.push(`[ERROR] ${msg} [json-pointer:${path}]`);
}

function checkTextObject(
  c: BlockCheck,
  obj: unknown,
  path: string,
  max: number,
  plainOnly = false,
): void {
  if (!isObject(obj)) return problem(c, path, 'must be a text object');
  if (obj.type !== 'plain_text' && obj.type !== 'mrkdwn') {
    return problem(c, `${path}/type`, 'must be one of plain_text, mrkdwn');
  }
  if (plainOnly && obj.type !== 'plain_text') return problem(c, `${path}/type`, 'must be plain_text');
  if ('emoji' in obj && obj.type === 'mrkdwn') problem(c, `${path}/emoji`, 'emoji is not allowed for mrkdwn');
  if ('verbatim' in obj && obj.type === 'plain_text') {
    problem(c, `${path}/verbatim`, 'verbatim is not allowed for plain_text');
  }
  if (typeof obj.text !== 'string' || obj.text.length === 0) {
    return problem(c, `${path}/text`, 'must be more than 0 characters');
  }
  if (obj.text.length > max) problem(c, `${path}/text`, `must be less than ${max + 1} characters`);
  c.totalText += obj.text.length;
}

function checkId(c: BlockCheck, v: unknown, path: string): void {
  if (v === undefined) return;
  if (typeof v !== 'string' || v.length === 0) return problem(c, path, 'must be a non-empty string');
  if (v.length > LIMITS.id) problem(c, path, `must be less than ${LIMITS.id + 1} characters`);
}

function checkOptions(c: BlockCheck, options: unknown, path: string, min: number, max: number): void {
  if (!Array.isArray(options)) return problem(c, path, 'must be an array');
  if (options.length < min || options.length > max) {
    problem(c, path, `must have between ${min} and ${max} items`);
  }
  options.forEach((o, i) => {
    if (!isObject(o)) return problem(c, `${path}/${i}`, 'must be an option object');
    checkTextObject(c, o.text, `${path}/${i}/text`, 75);
    if (typeof o.value !== 'string' || o.value.length > 150) {
      problem(c, `${path}/${i}/value`, 'must be a string of at most 150 characters');
    }
  });
}

function checkElement(c: BlockCheck, el: unknown, path: string, actionIds: Set<string>): void {
  if (!isObject(el) || typeof el.type !== 'string') return problem(c, path, 'must be an element with a type');
  checkId(c, el.action_id, `${path}/action_id`);
  if (typeof el.action_id === 'string') {
    // Slack requires action_id to be unique within its block; duplicates are a classic card bug.
    if (actionIds.has(el.action_id)) problem(c, `${path}/action_id`, 'must be unique within the block');
    actionIds.add(el.action_id);
  }
  switch (el.type) {
    case 'button':
      checkTextObject(c, el.text, `${path}/text`, LIMITS.buttonText, true);
      if (el.value !== undefined && (typeof el.value !== 'string' || el.value.length > LIMITS.buttonValue)) {
        problem(c, `${path}/value`, `must be less than ${LIMITS.buttonValue + 1} characters`);
      }
      if (el.url !== undefined && (typeof el.url !== 'string' || el.url.length > LIMITS.url)) {
        problem(c, `${path}/url`, `must be less than ${LIMITS.url + 1} characters`);
      }
      if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
        problem(c, `${path}/style`, 'must be one of primary, danger');
      }
      if (el.confirm !== undefined) checkConfirm(c, el.confirm, `${path}/confirm`);
      return;
    case 'plain_text_input':
      for (const k of ['max_length', 'min_length'] as const) {
        const v = el[k];
        if (v !== undefined && (typeof v !== 'number' || v < 0 || v > LIMITS.plainTextInput)) {
          problem(c, `${path}/${k}`, `must be at most ${LIMITS.plainTextInput}`);
        }
      }
      if (el.placeholder !== undefined) checkTextObject(c, el.placeholder, `${path}/placeholder`, 150, true);
      return;
    case 'static_select':
    case 'multi_static_select':
      if (el.options !== undefined) checkOptions(c, el.options, `${path}/options`, 1, 100);
      return;
    case 'overflow':
      checkOptions(c, el.options, `${path}/options`, 1, 5);
      return;
    case 'checkboxes':
    case 'radio_buttons':
      checkOptions(c, el.options, `${path}/options`, 1, 10);
      return;
    default:
      // Other interactive elements (date pickers, user selects, images...) pass with the id checks above.
      return;
  }
}

function checkConfirm(c: BlockCheck, confirm: unknown, path: string): void {
  if (!isObject(confirm)) return problem(c, path, 'must be a confirmation dialog object');
  checkTextObject(c, confirm.title, `${path}/title`, 100, true);
  checkTextObject(c, confirm.text, `${path}/text`, 300);
  checkTextObject(c, confirm.confirm, `${path}/confirm`, 30, true);
  checkTextObject(c, confirm.deny, `${path}/deny`, 30, true);
}

const PASS_THROUGH_BLOCKS = new Set(['rich_text', 'file', 'video', 'table', 'call', 'context_actions']);

function checkBlock(c: BlockCheck, block: unknown, path: string, blockIds: Set<string>): void {
  if (!isObject(block) || typeof block.type !== 'string') return problem(c, path, 'must be a block with a type');
  checkId(c, block.block_id, `${path}/block_id`);
  if (typeof block.block_id === 'string') {
    if (blockIds.has(block.block_id)) problem(c, `${path}/block_id`, 'must be unique');
    blockIds.add(block.block_id);
  }
  const actionIds = new Set<string>();
  switch (block.type) {
    case 'section': {
      if (block.text === undefined && block.fields === undefined) {
        return problem(c, path, 'must provide either text or fields');
      }
      if (block.text !== undefined) checkTextObject(c, block.text, `${path}/text`, LIMITS.sectionText);
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields) || block.fields.length > LIMITS.sectionFields) {
          problem(c, `${path}/fields`, `must be an array of at most ${LIMITS.sectionFields} items`);
        } else {
          block.fields.forEach((f, i) => checkTextObject(c, f, `${path}/fields/${i}`, LIMITS.sectionField));
        }
      }
      if (block.accessory !== undefined) checkElement(c, block.accessory, `${path}/accessory`, actionIds);
      return;
    }
    case 'header':
      return checkTextObject(c, block.text, `${path}/text`, LIMITS.header, true);
    case 'divider':
      return;
    case 'context': {
      const els = block.elements;
      if (!Array.isArray(els) || els.length === 0 || els.length > LIMITS.contextElements) {
        return problem(c, `${path}/elements`, `must have between 1 and ${LIMITS.contextElements} items`);
      }
      els.forEach((el, i) => {
        if (isObject(el) && el.type === 'image') return;
        checkTextObject(c, el, `${path}/elements/${i}`, LIMITS.sectionText);
      });
      return;
    }
    case 'actions': {
      const els = block.elements;
      if (!Array.isArray(els) || els.length === 0 || els.length > LIMITS.actionsElements) {
        return problem(c, `${path}/elements`, `must have between 1 and ${LIMITS.actionsElements} items`);
      }
      els.forEach((el, i) => checkElement(c, el, `${path}/elements/${i}`, actionIds));
      return;
    }
    case 'input':
      checkTextObject(c, block.label, `${path}/label`, LIMITS.inputLabel, true);
      if (block.hint !== undefined) checkTextObject(c, block.hint, `${path}/hint`, LIMITS.inputLabel, true);
      if (block.element === undefined) return problem(c, `${path}/element`, 'is required');
      return checkElement(c, block.element, `${path}/element`, actionIds);
    case 'image':
      if (typeof block.alt_text !== 'string' || block.alt_text.length === 0) {
        problem(c, `${path}/alt_text`, 'must be more than 0 characters');
      }
      return;
    case 'markdown':
      if (typeof block.text !== 'string' || block.text.length === 0) {
        return problem(c, `${path}/text`, 'must be more than 0 characters');
      }
      if (block.text.length > LIMITS.markdownBlock) {
        problem(c, `${path}/text`, `must be less than ${LIMITS.markdownBlock + 1} characters`);
      }
      c.totalText += block.text.length;
      return;
    default:
      if (PASS_THROUGH_BLOCKS.has(block.type)) return;
      problem(c, `${path}/type`, `unsupported block type \`${block.type}\``);
  }
}

function checkBlockList(blocks: unknown, max: number, basePath = '/blocks'): BlockCheck {
  const c: BlockCheck = { problems: [], totalText: 0 };
  if (!Array.isArray(blocks)) {
    problem(c, basePath, 'must be an array');
    return c;
  }
  if (blocks.length > max) problem(c, basePath, `no more than ${max} items allowed`);
  const blockIds = new Set<string>();
  blocks.forEach((b, i) => checkBlock(c, b, `${basePath}/${i}`, blockIds));
  return c;
}

/** Message surfaces: chat.postMessage, chat.update, chat.postEphemeral, response_url. */
function validateMessageContent(args: Json, requireContent: boolean): void {
  const hasText = typeof args.text === 'string' && args.text.length > 0;
  const hasBlocks = Array.isArray(args.blocks) && args.blocks.length > 0;
  const hasAttachments = Array.isArray(args.attachments) && args.attachments.length > 0;
  if (requireContent && !hasText && !hasBlocks && !hasAttachments) fail('no_text');
  if (typeof args.text === 'string' && args.text.length > LIMITS.messageText) fail('msg_too_long');
  if (args.blocks !== undefined) {
    const c = checkBlockList(args.blocks, LIMITS.messageBlocks);
    if (c.problems.length > 0) fail('invalid_blocks', c.problems);
    if (c.totalText > LIMITS.totalBlockText) fail('msg_blocks_too_long');
  }
}

function validateView(view: unknown, kind: 'modal' | 'home'): Json {
  if (!isObject(view)) fail('invalid_arguments', ['[ERROR] view must be an object [json-pointer:/view]']);
  const c: BlockCheck = { problems: [], totalText: 0 };
  if (view.type !== kind) problem(c, '/view/type', `must be ${kind}`);
  if (kind === 'modal') {
    checkTextObject(c, view.title, '/view/title', LIMITS.viewTitle, true);
    if (view.submit !== undefined) checkTextObject(c, view.submit, '/view/submit', LIMITS.viewTitle, true);
    if (view.close !== undefined) checkTextObject(c, view.close, '/view/close', LIMITS.viewTitle, true);
    const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isObject(b) && b.type === 'input');
    if (hasInput && view.submit === undefined) {
      problem(c, '/view/submit', 'submit is required when an input block is within the blocks');
    }
  }
  if (view.private_metadata !== undefined) {
    if (typeof view.private_metadata !== 'string' || view.private_metadata.length > LIMITS.privateMetadata) {
      problem(c, '/view/private_metadata', `must be less than ${LIMITS.privateMetadata + 1} characters`);
    }
  }
  checkId(c, view.callback_id, '/view/callback_id');
  checkId(c, view.external_id, '/view/external_id');
  const blocks = checkBlockList(view.blocks, LIMITS.viewBlocks, '/view/blocks');
  c.problems.push(...blocks.problems);
  if (c.problems.length > 0) fail('invalid_arguments', c.problems);
  return view;
}

// ---------------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------------

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Returns the args, or the Slack error code the real API gives for an unparseable field. */
function parseArgs(contentType: string, raw: string): Json {
  const args: Json = {};
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = raw === '' ? {} : JSON.parse(raw);
    if (!isObject(parsed)) fail('invalid_json');
    Object.assign(args, parsed);
  } else {
    for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
  }
  for (const [k, v] of Object.entries(args)) {
    if (typeof v !== 'string') continue;
    if (JSON_FIELDS.has(k)) {
      try {
        args[k] = JSON.parse(v);
      } catch {
        const code = k === 'blocks' ? 'invalid_blocks_format' : k === 'metadata' ? 'invalid_metadata_format' : 'invalid_arguments';
        fail(code, [`[ERROR] ${k} is not valid JSON [json-pointer:/${k}]`]);
      }
    } else if (BOOLEAN_FIELDS.has(k) && (v === 'true' || v === 'false' || v === '1' || v === '0')) {
      args[k] = v === 'true' || v === '1';
    }
  }
  return args;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function summarize(call: FakeSlackCall): string {
  const json = JSON.stringify(call.args);
  const args = json.length > 200 ? `${json.slice(0, 200)}…` : json;
  return `  ${call.method} ${call.ok ? 'ok' : `-> ${call.error}`} ${args}`;
}

// ---------------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------------

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = opts.botToken ?? 'xoxb-fake-token';
  const teamId = opts.teamId ?? 'T_TEST';
  const botUserId = opts.botUserId ?? 'U_BOT';
  const botId = 'B_BOT';
  const appId = 'A_APP';
  let latencyMs = opts.latencyMs ?? 0;
  const now = opts.now ?? Date.now;
  // Slack counts rate limits per workspace: one limiter per team, made on its first call.
  let limitConfig: ReturnType<typeof resolveRateLimits> = null;
  let limiters = new Map<string, FakeSlackRateLimiter>();
  const limiterFor = (team: string): FakeSlackRateLimiter | null => {
    if (!limitConfig) return null;
    let l = limiters.get(team);
    if (!l) limiters.set(team, (l = new FakeSlackRateLimiter(limitConfig, now)));
    return l;
  };
  const setRateLimits = (option: FakeSlackRateLimitsOption | undefined): void => {
    limitConfig = resolveRateLimits(option);
    limiters = new Map();
  };
  setRateLimits(opts.rateLimits);
  const emptyStats = (): FakeSlackRateStats => ({
    ratelimited: {},
    ratelimitedTotal: 0,
    ratelimitedPostsByChannel: {},
    accepted: {},
    acceptedTotal: 0,
  });
  let stats = emptyStats();

  const calls: FakeSlackCall[] = [];
  const waiters = new Set<() => void>();
  const messages = new Map<string, FakeSlackMessage>(); // key: `${channel}/${ts}`
  const ephemeralList: FakeSlackEphemeral[] = [];
  const views: FakeSlackView[] = [];
  const users = new Map<string, FakeSlackUser>();
  const userGroups = new Map<string, string[]>();
  const channels = new Map<string, FakeSlackChannelState>();
  const expiredTriggers = new Set<string>();
  const failures = new Map<string, Array<{ failure: FakeSlackFailure; remaining: number }>>();
  const responseUrls = new Map<string, ResponseUrlContext & { uses: number }>();
  const threadStatuses: FakeThreadStatus[] = [];
  const suggestedPrompts: FakeSuggestedPrompts[] = [];

  /** The AI-surface methods work on threads of a DM with the app (channel ids D…). */
  const requireAssistantThread = (args: Json): { channel: string; threadTs: string } => {
    const channel = requireChannelArg(args, 'channel_id');
    if (!channel.startsWith('D')) fail('channel_type_not_supported');
    const threadTs = str(args, 'thread_ts');
    if (!threadTs || !findMessage(channel, threadTs)) fail('thread_not_found');
    return { channel, threadTs };
  };

  // Workspaces and their bot tokens. `caller` is the workspace of the call being handled (handlers run
  // synchronously, so one variable is enough).
  const home: FakeOAuthWorkspace = { teamId, teamName: 'Fake Team', botUserId, botId };
  const workspaces = new Map<string, FakeOAuthWorkspace>([[teamId, home]]);
  const tokens = new Map<string, { ws: FakeOAuthWorkspace; revoked: boolean; expiresAt: number | undefined }>([
    [botToken, { ws: home, revoked: false, expiresAt: undefined }],
  ]);
  let caller: FakeOAuthWorkspace = home;
  let callerKnown = false;
  const workspaceFor = (id: string, name: string | undefined): FakeOAuthWorkspace => {
    let ws = workspaces.get(id);
    if (!ws) workspaces.set(id, (ws = { teamId: id, teamName: name ?? id, botUserId: `U_BOT_${id}`, botId: `B_BOT_${id}` }));
    else if (name) ws.teamName = name;
    return ws;
  };
  const oauthServer = opts.oauth
    ? createFakeOAuth(opts.oauth, {
        appId: 'A_APP',
        now,
        workspace: workspaceFor,
        addToken: (token, ws, expiresAt) => {
          tokens.set(token, { ws, revoked: false, expiresAt });
        },
      })
    : undefined;

  // Strictly increasing timestamps from the fake's start time: string order equals post order, and
  // `oldest`/`latest` filters by wall-clock time work as they do on Slack.
  let seq = 0;
  const baseSecs = Math.floor(Date.now() / 1000);
  const nextTs = (): string => {
    seq += 1;
    const micros = seq * 100;
    const secs = baseSecs + Math.floor(micros / 1_000_000);
    return `${secs}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
  let idSeq = 0;
  const nextId = (prefix: string): string => `${prefix}${String(++idSeq).padStart(8, '0')}`;

  const key = (channel: string, ts: string): string => `${channel}/${ts}`;
  const dmChannel = (userId: string): string => `D${userId}`;
  /** Slack opens (or reuses) the DM when a user id is given as the channel. */
  const resolveChannel = (channel: string): string => (/^[UW]/.test(channel) ? dmChannel(channel) : channel);

  const channelState = (id: string): Required<Omit<FakeSlackChannelState, 'name' | 'team' | 'members' | 'is_private'>> & { name: string } => {
    const s = channels.get(id) ?? {};
    return {
      name: s.name ?? id.toLowerCase().replace(/[^a-z0-9_-]/g, ''),
      is_member: s.is_member ?? true,
      is_archived: s.is_archived ?? false,
      exists: s.exists ?? true,
    };
  };

  /** Posting needs the channel to exist, be unarchived and have the bot in it. */
  const requirePostable = (channel: string): void => {
    const s = channelState(channel);
    if (!s.exists) fail('channel_not_found');
    if (s.is_archived) fail('is_archived');
    if (!s.is_member) fail('not_in_channel');
  };

  /** The workspace a channel (or a user's DM) belongs to, when the test said so. */
  const channelTeam = (resolved: string): string | undefined =>
    channels.get(resolved)?.team ?? (resolved.startsWith('D') ? users.get(resolved.slice(1))?.team : undefined);

  const requireChannelArg = (args: Json, name = 'channel'): string => {
    const channel = str(args, name);
    if (!channel) fail('channel_not_found');
    const resolved = resolveChannel(channel);
    if (!channelState(resolved).exists) fail('channel_not_found');
    const owner = channelTeam(resolved);
    if (owner !== undefined && owner !== caller.teamId) fail('channel_not_found');
    return resolved;
  };

  const findMessage = (channel: string, ts: string): FakeSlackMessage | undefined => {
    const m = messages.get(key(channel, ts));
    return m && !m.deleted ? m : undefined;
  };

  /** Slack returns metadata from conversations.history/replies only when asked (`include_all_metadata`). */
  const messageJson = (m: FakeSlackMessage, withMetadata = true): Json => ({
    type: 'message',
    ...(m.bot_id ? { bot_id: m.bot_id, app_id: appId } : {}),
    text: m.text,
    user: m.user,
    ts: m.ts,
    team: teamId,
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts, parent_user_id: findMessage(m.channel, m.thread_ts)?.user } : {}),
    ...(m.metadata && withMetadata ? { metadata: m.metadata } : {}),
  });

  const storeMessage = (m: Omit<FakeSlackMessage, 'ts' | 'history' | 'deleted'>): FakeSlackMessage => {
    const msg: FakeSlackMessage = { ...m, ts: nextTs(), history: [], deleted: false };
    messages.set(key(msg.channel, msg.ts), msg);
    return msg;
  };

  /**
   * Stricter than Slack, which may accept an unknown thread_ts: a reply to a thread the fake never saw
   * is almost always an app bug (wrong ts stored, wrong channel). A reply's ts is normalised to its parent.
   */
  const resolveThread = (channel: string, threadTs: string | undefined): string | undefined => {
    if (threadTs === undefined) return undefined;
    const parent = findMessage(channel, threadTs);
    if (!parent) fail('thread_not_found');
    return parent.thread_ts ?? parent.ts;
  };

  /** Slack answers warnings with ok:true and says why in response_metadata. */
  const withWarning = (result: Result, warning: string | undefined): Result =>
    warning
      ? {
          ...result,
          warning,
          response_metadata: { warnings: [warning], messages: [`[WARN] ${warning}: the metadata was not stored`] },
        }
      : result;

  const postMessage = (args: Json): Result => {
    const channel = requireChannelArg(args);
    requirePostable(channel);
    validateMessageContent(args, true);
    const meta = checkMetadata(args.metadata, fail);
    const threadTs = resolveThread(channel, str(args, 'thread_ts'));
    const msg = storeMessage({
      channel,
      user: caller.botUserId,
      bot_id: caller.botId,
      text: typeof args.text === 'string' ? args.text : '',
      ...(Array.isArray(args.blocks) ? { blocks: args.blocks } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}),
      ...(meta && 'metadata' in meta ? { metadata: meta.metadata } : {}),
      ...(args.reply_broadcast === true ? { reply_broadcast: true } : {}),
    });
    const warning = meta && 'ignoredWarning' in meta ? meta.ignoredWarning : undefined;
    return withWarning({ ok: true, channel, ts: msg.ts, message: messageJson(msg) }, warning);
  };

  /** Metadata is left as it was when the update carries none (or carries one Slack ignores). */
  const updateMessage = (msg: FakeSlackMessage, args: Json, metadata?: MessageMetadata): void => {
    msg.history.push({ text: msg.text, ...(msg.blocks ? { blocks: msg.blocks } : {}), at: Date.now() });
    if (typeof args.text === 'string') msg.text = args.text;
    // Slack keeps the previous blocks when `blocks` is omitted; an empty array removes them.
    if (Array.isArray(args.blocks)) {
      if (args.blocks.length === 0) delete msg.blocks;
      else msg.blocks = args.blocks;
    }
    if (metadata) msg.metadata = metadata;
  };

  const userJson = (u: FakeSlackUser): Json => ({
    id: u.id,
    team_id: u.team ?? teamId,
    name: u.name,
    deleted: false,
    real_name: u.real_name,
    tz: u.tz ?? 'Europe/London',
    is_admin: u.is_admin ?? false,
    is_owner: u.is_owner ?? false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: false,
    is_app_user: false,
    profile: {
      real_name: u.real_name,
      real_name_normalized: u.real_name,
      display_name: u.name,
      display_name_normalized: u.name,
      // Slack only includes the email with the users:read.email scope; the fake includes it when known.
      ...(u.email ? { email: u.email } : {}),
      team: u.team ?? teamId,
    },
  });

  const channelJson = (id: string): Json => {
    const s = channelState(id);
    return {
      id,
      name: s.name,
      is_channel: id.startsWith('C'),
      is_group: id.startsWith('G'),
      is_im: id.startsWith('D'),
      is_private: id.startsWith('G'),
      is_member: s.is_member,
      is_archived: s.is_archived,
      created: 1_690_000_000,
      context_team_id: teamId,
    };
  };

  const viewJson = (v: FakeSlackView): Json => ({
    ...v.raw,
    id: v.id,
    team_id: teamId,
    hash: v.hash,
    root_view_id: v.root_view_id,
    previous_view_id: v.previous_view_id,
    app_id: appId,
    bot_id: botId,
    state: { values: {} },
    blocks: v.blocks,
  });

  const newView = (raw: Json, extra: { previous?: FakeSlackView; user_id?: string }): FakeSlackView => {
    const id = nextId('V');
    const v: FakeSlackView = {
      id,
      type: String(raw.type),
      ...(typeof raw.callback_id === 'string' ? { callback_id: raw.callback_id } : {}),
      ...(typeof raw.private_metadata === 'string' ? { private_metadata: raw.private_metadata } : {}),
      ...(typeof raw.external_id === 'string' ? { external_id: raw.external_id } : {}),
      title: raw.title,
      blocks: Array.isArray(raw.blocks) ? raw.blocks : [],
      hash: `${Date.now()}.${nextId('h')}`,
      root_view_id: extra.previous?.root_view_id ?? id,
      previous_view_id: extra.previous?.id ?? null,
      ...(extra.user_id ? { user_id: extra.user_id } : {}),
      raw,
      history: [],
    };
    views.push(v);
    return v;
  };

  const replaceView = (v: FakeSlackView, raw: Json): void => {
    v.history.push(v.raw);
    v.raw = raw;
    v.type = String(raw.type);
    v.title = raw.title;
    v.blocks = Array.isArray(raw.blocks) ? raw.blocks : [];
    if (typeof raw.callback_id === 'string') v.callback_id = raw.callback_id;
    if (typeof raw.private_metadata === 'string') v.private_metadata = raw.private_metadata;
    v.hash = `${Date.now()}.${nextId('h')}`;
  };

  const requireTrigger = (args: Json): void => {
    const trigger = str(args, 'trigger_id');
    if (!trigger) fail('invalid_arguments', ['[ERROR] missing required field: trigger_id']);
    if (expiredTriggers.has(trigger)) fail('expired_trigger_id');
  };

  const findView = (args: Json): FakeSlackView => {
    const id = str(args, 'view_id');
    const ext = str(args, 'external_id');
    if (!id && !ext) fail('invalid_arguments', ['[ERROR] view_id or external_id is required']);
    const v = views.find((x) => (id ? x.id === id : x.external_id === ext));
    if (!v) fail('not_found');
    return v;
  };

  /**
   * apps.connections.open takes the app-level token, and only in the Authorization header; every other
   * method takes the bot token. A known token of the wrong kind is `not_allowed_token_type`, as in Slack.
   */
  const tokenProblem = (method: string, token: string, inHeader: boolean): string | undefined => {
    const appLevel = method === 'apps.connections.open';
    if (appLevel && !inHeader) return 'not_authed';
    const bot = tokens.get(token);
    if (appLevel) return token === opts.appToken ? undefined : bot ? 'not_allowed_token_type' : 'invalid_auth';
    if (!bot) return token === opts.appToken ? 'not_allowed_token_type' : 'invalid_auth';
    if (bot.revoked) return 'token_revoked';
    if (bot.expiresAt !== undefined && now() >= bot.expiresAt) return 'token_expired';
    caller = bot.ws;
    callerKnown = true;
    return undefined;
  };

  const handlers: Record<string, (args: Json) => Result> = {
    'apps.connections.open': () => {
      if (!opts.socketModeUrl) throw new Error('fakeSlack: apps.connections.open needs the socketModeUrl option');
      return { ok: true, url: opts.socketModeUrl() };
    },
    'auth.test': () => ({
      ok: true,
      url: 'https://fake.slack.test/',
      team: caller.teamName,
      user: 'agent',
      team_id: caller.teamId,
      user_id: caller.botUserId,
      bot_id: caller.botId,
      is_enterprise_install: false,
    }),

    'chat.postMessage': postMessage,

    'chat.update': (args) => {
      const channel = requireChannelArg(args);
      const ts = str(args, 'ts');
      if (!ts) fail('message_not_found');
      const msg = findMessage(channel, ts);
      if (!msg) fail('message_not_found');
      if (msg.user !== caller.botUserId) fail('cant_update_message');
      if (channelState(channel).is_archived) fail('is_archived');
      validateMessageContent(args, false);
      const meta = checkMetadata(args.metadata, fail);
      updateMessage(msg, args, meta && 'metadata' in meta ? meta.metadata : undefined);
      const warning = meta && 'ignoredWarning' in meta ? meta.ignoredWarning : undefined;
      return withWarning({ ok: true, channel, ts, text: msg.text, message: messageJson(msg) }, warning);
    },

    'chat.delete': (args) => {
      const channel = requireChannelArg(args);
      const ts = str(args, 'ts');
      const msg = ts ? findMessage(channel, ts) : undefined;
      if (!msg) fail('message_not_found');
      if (msg.user !== caller.botUserId) fail('cant_delete_message');
      msg.deleted = true;
      return { ok: true, channel, ts: msg.ts };
    },

    'chat.postEphemeral': (args) => {
      const channel = requireChannelArg(args);
      const user = str(args, 'user');
      if (!user) fail('user_not_found');
      requirePostable(channel);
      validateMessageContent(args, true);
      const threadTs = str(args, 'thread_ts');
      const ts = nextTs();
      ephemeralList.push({
        channel,
        user,
        ts,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: typeof args.text === 'string' ? args.text : '',
        ...(Array.isArray(args.blocks) ? { blocks: args.blocks } : {}),
        via: 'chat.postEphemeral',
      });
      return { ok: true, message_ts: ts };
    },

    'chat.getPermalink': (args) => {
      const channel = requireChannelArg(args);
      const ts = str(args, 'message_ts');
      const msg = ts ? findMessage(channel, ts) : undefined;
      if (!msg) fail('message_not_found');
      const base = `https://fake.slack.test/archives/${channel}/p${msg.ts.replace('.', '')}`;
      const permalink = msg.thread_ts ? `${base}?thread_ts=${msg.thread_ts}&cid=${channel}` : base;
      return { ok: true, channel, permalink };
    },

    // Paginated like Slack: `limit` (default 100, at most 1000) and an opaque `next_cursor`, '' on the last page.
    'conversations.members': (args) => {
      const channel = requireChannelArg(args);
      const state = channels.get(channel) ?? {};
      if (state.is_private && !channelState(channel).is_member) fail('channel_not_found');
      const all = state.members ?? [...users.values()].filter((u) => u.team === undefined || u.team === caller.teamId).map((u) => u.id);
      const limit = Math.min(1000, Math.max(1, Number(args.limit ?? 100) || 100));
      const cursor = str(args, 'cursor');
      let start = 0;
      if (cursor) {
        const m = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
        if (!m) fail('invalid_cursor');
        start = Number(m[1]);
      }
      const next = start + limit < all.length ? Buffer.from(`offset:${start + limit}`).toString('base64') : '';
      return { ok: true, members: all.slice(start, start + limit), response_metadata: { next_cursor: next } };
    },

    'conversations.info': (args) => {
      const channel = requireChannelArg(args);
      return { ok: true, channel: channelJson(channel) };
    },

    'conversations.join': (args) => {
      const channel = requireChannelArg(args);
      const s = channelState(channel);
      if (s.is_archived) fail('is_archived');
      channels.set(channel, { ...channels.get(channel), is_member: true });
      return { ok: true, channel: channelJson(channel) };
    },

    'conversations.history': (args) => {
      const channel = requireChannelArg(args);
      if (!channelState(channel).is_member) fail('not_in_channel');
      const timeline = readTimeline(args, { defaultLimit: 100, maxLimit: 999 }, fail);
      // Newest first, paging backwards from `latest`; the fake does the same when only `oldest` is given.
      const page = timelinePage(topLevel(channel), 'newest_first', timeline);
      const withMetadata = args.include_all_metadata === true;
      return {
        ok: true,
        messages: page.items.map((m) => messageJson(m, withMetadata)),
        has_more: page.hasMore,
        pin_count: 0,
        response_metadata: { next_cursor: page.nextCursor },
      };
    },

    'conversations.replies': (args) => {
      const channel = requireChannelArg(args);
      const ts = str(args, 'ts');
      const parent = ts ? findMessage(channel, ts) : undefined;
      if (!parent) fail('thread_not_found');
      const root = parent.thread_ts ?? parent.ts;
      const rootMsg = findMessage(channel, root);
      const timeline = readTimeline(args, { defaultLimit: 1000, maxLimit: 1000 }, fail);
      // The parent leads the first page whatever oldest/latest say; replies follow oldest first.
      const page = timelinePage(replies(channel, root), 'oldest_first', timeline, rootMsg);
      const withMetadata = args.include_all_metadata === true;
      return {
        ok: true,
        messages: page.items.map((m) => messageJson(m, withMetadata)),
        has_more: page.hasMore,
        response_metadata: { next_cursor: page.nextCursor },
      };
    },

    // The AI surface (Agents & AI Apps): status under a thread and suggested prompts, in the app's DMs.
    'assistant.threads.setStatus': (args) => {
      const { channel, threadTs } = requireAssistantThread(args);
      if (typeof args.status !== 'string') fail('invalid_arguments', ['[ERROR] missing required field: status']);
      threadStatuses.push({ channel, threadTs, status: args.status, at: Date.now() });
      return { ok: true };
    },

    'assistant.threads.setSuggestedPrompts': (args) => {
      const { channel, threadTs } = requireAssistantThread(args);
      const prompts = args.prompts;
      if (!Array.isArray(prompts) || prompts.length === 0 || prompts.length > 4) fail('invalid_arguments', ['[ERROR] prompts must hold 1 to 4 items']);
      for (const p of prompts) {
        if (!isObject(p) || typeof p.title !== 'string' || typeof p.message !== 'string' || p.title === '' || p.message === '') fail('invalid_arguments', ['[ERROR] each prompt needs a title and a message']);
      }
      suggestedPrompts.push({ channel, threadTs, title: typeof args.title === 'string' ? args.title : undefined, prompts: prompts as Array<{ title: string; message: string }> });
      return { ok: true };
    },

    'users.info': (args) => {
      const id = str(args, 'user');
      const u = id ? users.get(id) : undefined;
      if (!u || (u.team !== undefined && u.team !== caller.teamId)) fail('user_not_found');
      return { ok: true, user: userJson(u) };
    },

    'usergroups.users.list': (args) => {
      const id = str(args, 'usergroup');
      const members = id ? userGroups.get(id) : undefined;
      if (!members) fail('no_such_subteam');
      return { ok: true, users: [...members] };
    },

    'views.open': (args) => {
      requireTrigger(args);
      const raw = validateView(args.view, 'modal');
      return { ok: true, view: viewJson(newView(raw, {})) };
    },

    'views.push': (args) => {
      requireTrigger(args);
      const raw = validateView(args.view, 'modal');
      // Slack pushes onto the stack of the modal the trigger came from; the latest modal is a fair stand-in.
      const previous = [...views].reverse().find((v) => v.type === 'modal');
      return { ok: true, view: viewJson(newView(raw, previous ? { previous } : {})) };
    },

    'views.update': (args) => {
      const v = findView(args);
      const hash = str(args, 'hash');
      if (hash && hash !== v.hash) fail('hash_conflict');
      const raw = validateView(args.view, v.type === 'home' ? 'home' : 'modal');
      replaceView(v, raw);
      return { ok: true, view: viewJson(v) };
    },

    'views.publish': (args) => {
      const userId = str(args, 'user_id');
      const user = userId ? users.get(userId) : undefined;
      if (!userId || !user || (user.team !== undefined && user.team !== caller.teamId)) fail('user_not_found');
      const raw = validateView(args.view, 'home');
      const existing = views.find((v) => v.type === 'home' && v.user_id === userId);
      if (existing) {
        const hash = str(args, 'hash');
        if (hash && hash !== existing.hash) fail('hash_conflict');
        replaceView(existing, raw);
        return { ok: true, view: viewJson(existing) };
      }
      return { ok: true, view: viewJson(newView(raw, { user_id: userId })) };
    },
  };

  function topLevel(channel: string): FakeSlackMessage[] {
    return [...messages.values()]
      .filter((m) => m.channel === channel && !m.deleted && (!m.thread_ts || m.reply_broadcast))
      .sort((a, b) => a.ts.localeCompare(b.ts));
  }

  function replies(channel: string, threadTs: string): FakeSlackMessage[] {
    return [...messages.values()]
      .filter((m) => m.channel === channel && !m.deleted && m.thread_ts === threadTs)
      .sort((a, b) => a.ts.localeCompare(b.ts));
  }

  const record = (method: string, args: Json, ok: boolean, error?: string, performed = false): void => {
    calls.push({ method, args, at: Date.now(), ok, ...(error ? { error } : {}), ...(performed ? { performed } : {}), ...(callerKnown ? { team: caller.teamId } : {}) });
    for (const w of [...waiters]) w();
  };

  const isAfterEffect = (f: FakeSlackFailure): boolean => 'afterEffect' in f && f.afterEffect === true;

  /**
   * Takes the next injected failure of the given kind. Failures fire in the order they were queued: a
   * pending after-effect failure waits for a call the limiter lets through, a pending before-effect one
   * answers the very next call.
   */
  const takeFailure = (method: string, afterEffect: boolean): FakeSlackFailure | undefined => {
    const queue = failures.get(method);
    const head = queue?.[0];
    if (!queue || !head || isAfterEffect(head.failure) !== afterEffect) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.failure;
  };

  const count = (table: Record<string, number>, key: string): void => {
    table[key] = (table[key] ?? 0) + 1;
  };

  const rateLimited = (method: string, args: Json, retryAfter: number): ApiAnswer => {
    count(stats.ratelimited, method);
    stats.ratelimitedTotal += 1;
    if (method === 'chat.postMessage') count(stats.ratelimitedPostsByChannel, resolveChannel(str(args, 'channel') ?? ''));
    record(method, args, false, 'ratelimited');
    return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(retryAfter) } };
  };

  /** The answer to a call whose outcome the injected failure hides from the client. */
  const failedAnswer = (
    method: string,
    args: Json,
    failure: Exclude<FakeSlackFailure, { error: string } | { status: 429 }>,
    performed: boolean,
  ): ApiAnswer => {
    if ('drop' in failure) {
      record(method, args, false, 'connection_dropped', performed);
      return { status: 0, body: {}, headers: {}, drop: true };
    }
    record(method, args, false, `http_${failure.status}`, performed);
    return { status: failure.status, body: { ok: false, error: 'fatal_error' }, headers: {} };
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  interface ApiAnswer {
    status: number;
    body: Json;
    headers: Record<string, string>;
    /** Destroy the connection instead of answering. */
    drop?: true;
  }

  const handleApi = (
    method: string,
    contentType: string,
    raw: string,
    authHeader: string | undefined,
  ): ApiAnswer => {
    let args: Json = {};
    caller = home;
    callerKnown = false;
    try {
      args = parseArgs(contentType, raw);
    } catch (err) {
      const code = err instanceof SlackFail ? err.code : 'invalid_form_data';
      record(method, args, false, code);
      return { status: 200, body: { ok: false, error: code }, headers: {} };
    }
    // oauth.v2.access authenticates with the app's client id and secret, not a token.
    if (method === 'oauth.v2.access' && oauthServer) {
      const body = oauthServer.access(args, authHeader);
      delete args.client_secret;
      record(method, args, body.ok, body.error);
      return { status: 200, body, headers: {} };
    }
    const bearer = authHeader?.match(/^Bearer\s+(.+)$/i)?.[1];
    // Slack also accepts the token as a form field (older clients); the header wins.
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    delete args.token;
    if (!token) {
      record(method, args, false, 'not_authed');
      return { status: 200, body: { ok: false, error: 'not_authed' }, headers: {} };
    }
    const authProblem = tokenProblem(method, token, bearer !== undefined);
    if (authProblem) {
      record(method, args, false, authProblem);
      return { status: 200, body: { ok: false, error: authProblem }, headers: {} };
    }
    const injected = takeFailure(method, false);
    if (injected) {
      if ('error' in injected) {
        record(method, args, false, injected.error);
        return { status: 200, body: { ok: false, error: injected.error }, headers: {} };
      }
      if ('status' in injected && injected.status === 429) return rateLimited(method, args, injected.retryAfter);
      return failedAnswer(method, args, injected, false);
    }
    const handler = handlers[method];
    if (!handler) {
      record(method, args, false, 'unknown_method');
      return { status: 200, body: { ok: false, error: 'unknown_method' }, headers: {} };
    }
    const limiter = limiterFor(caller.teamId);
    if (limiter) {
      const channel = method === 'chat.postMessage' ? resolveChannel(str(args, 'channel') ?? '') : undefined;
      const decision = limiter.admit(method, channel);
      if (!decision.allowed) return rateLimited(method, args, decision.retryAfterSec);
    }
    count(stats.accepted, method);
    stats.acceptedTotal += 1;
    let answer: ApiAnswer;
    let ok = true;
    let code: string | undefined;
    try {
      answer = { status: 200, body: handler(args), headers: {} };
    } catch (err) {
      if (!(err instanceof SlackFail)) throw err;
      ok = false;
      code = err.code;
      const body: Json = { ok: false, error: err.code };
      if (err.details.length > 0) body.response_metadata = { messages: err.details };
      answer = { status: 200, body, headers: {} };
    }
    const after = takeFailure(method, true);
    // Narrowed by construction: only HTTP and drop failures can be after-effect ones.
    if (after && !('error' in after) && !('status' in after && after.status === 429)) {
      return failedAnswer(method, args, after, ok);
    }
    record(method, args, ok, code);
    return answer;
  };

  /** response_url: JSON body, like Bolt's respond() sends. Answers `ok` the way hooks.slack.com does. */
  const handleResponseUrl = (id: string, raw: string): { status: number; body: unknown } => {
    const ctx = responseUrls.get(id);
    let payload: Json = {};
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed)) payload = parsed;
    } catch {
      record('response_url', { raw }, false, 'invalid_payload');
      return { status: 400, body: { ok: false, error: 'invalid_payload' } };
    }
    const args = { ...payload, response_url_id: id };
    if (!ctx) {
      record('response_url', args, false, 'expired_url');
      return { status: 404, body: { ok: false, error: 'expired_url' } };
    }
    if (ctx.uses >= RESPONSE_URL_USES) {
      record('response_url', args, false, 'used_url');
      return { status: 404, body: { ok: false, error: 'used_url' } };
    }
    try {
      ctx.uses += 1;
      const original = ctx.messageTs ? findMessage(ctx.channel, ctx.messageTs) : undefined;
      if (payload.delete_original === true) {
        if (!original) fail('message_not_found');
        original.deleted = true;
      } else if (payload.replace_original === true) {
        if (!original) fail('message_not_found');
        validateMessageContent(payload, true);
        const meta = checkMetadata(payload.metadata, fail);
        updateMessage(original, payload, meta && 'metadata' in meta ? meta.metadata : undefined);
      } else if (payload.response_type === 'in_channel') {
        postMessage({ ...payload, channel: ctx.channel });
      } else {
        validateMessageContent(payload, true);
        ephemeralList.push({
          channel: ctx.channel,
          user: ctx.userId,
          ts: nextTs(),
          ...(typeof payload.thread_ts === 'string' ? { thread_ts: payload.thread_ts } : {}),
          text: typeof payload.text === 'string' ? payload.text : '',
          ...(Array.isArray(payload.blocks) ? { blocks: payload.blocks } : {}),
          via: 'response_url',
        });
      }
      record('response_url', args, true);
      return { status: 200, body: { ok: true } };
    } catch (err) {
      if (!(err instanceof SlackFail)) throw err;
      record('response_url', args, false, err.code);
      return { status: 400, body: { ok: false, error: err.code } };
    }
  };

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const raw = await readBody(req);
        if (latencyMs > 0) await sleep(latencyMs);
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const apiMatch = path.match(/^\/api\/([A-Za-z0-9_.]+)$/);
        const responseMatch = path.match(/^\/response\/([A-Za-z0-9_]+)$/);
        if (req.method === 'POST' && apiMatch?.[1]) {
          const out = handleApi(apiMatch[1], req.headers['content-type'] ?? '', raw, req.headers.authorization);
          if (out.drop) req.socket.destroy();
          else send(res, out.status, out.body, out.headers);
        } else if (req.method === 'POST' && responseMatch?.[1]) {
          const out = handleResponseUrl(responseMatch[1], raw);
          send(res, out.status, out.body);
        } else {
          send(res, 404, { ok: false, error: 'unknown_method' });
        }
      } catch (err) {
        // A bug in the fake itself: make it loud rather than a confusing app-side failure.
        console.error('fakeSlack internal error', err);
        send(res, 500, { ok: false, error: 'fake_internal_error', detail: String(err) });
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const matching = (
    method: string,
    predicate?: (args: Json, call: FakeSlackCall) => boolean,
  ): FakeSlackCall[] => calls.filter((c) => c.method === method && (!predicate || predicate(c.args, c)));

  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      const waiter = (): void => {
        const hit = check();
        if (hit === undefined) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        const recent = calls.slice(-15).map(summarize).join('\n') || '  (no calls)';
        reject(new Error(`fakeSlack: ${describe()} timed out after ${timeoutMs} ms. Recent calls:\n${recent}`));
      }, timeoutMs);
      waiters.add(waiter);
    });

  return {
    url: `${origin}/api/`,
    origin,
    botToken,
    teamId,
    botUserId,
    botId,
    calls,
    callsTo: (method) => matching(method).map((c) => c.args),
    waitFor: (method, predicate, timeoutMs = 5000) =>
      waitUntil(() => matching(method, predicate)[0]?.args, timeoutMs, () => `waitFor(${method})`),
    waitForCount: (method, n, timeoutMs = 5000) =>
      waitUntil(
        () => {
          const hits = matching(method);
          return hits.length >= n ? hits.slice(0, n).map((c) => c.args) : undefined;
        },
        timeoutMs,
        () => `waitForCount(${method}, ${n}) (seen ${matching(method).length})`,
      ),

    message: (channel, ts) => findMessage(resolveChannel(channel), ts),
    threadReplies: (channel, threadTs) => replies(resolveChannel(channel), threadTs),
    channelMessages: (channel) => topLevel(resolveChannel(channel)),
    ephemerals: (userId) => ephemeralList.filter((e) => userId === undefined || e.user === userId),
    threadStatuses: (channel, threadTs) => threadStatuses.filter((t) => (channel === undefined || t.channel === channel) && (threadTs === undefined || t.threadTs === threadTs)),
    suggestedPrompts: () => [...suggestedPrompts],
    seedMessage: ({ channel, user, text, thread_ts }) => {
      const ch = resolveChannel(channel);
      const threadTs = thread_ts === undefined ? undefined : resolveThread(ch, thread_ts);
      return storeMessage({ channel: ch, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) }).ts;
    },
    dmChannel,

    views,
    view: (id) => views.find((v) => v.id === id),
    homeView: (userId) => views.find((v) => v.type === 'home' && v.user_id === userId),
    expireTrigger: (id) => {
      expiredTriggers.add(id);
    },

    addUser: (u) => {
      users.set(u.id, u);
    },
    addUserGroup: (id, userIds) => {
      userGroups.set(id, [...userIds]);
    },
    setChannel: (id, state) => {
      channels.set(id, { ...channels.get(id), ...state });
    },

    responseUrl: (ctx) => {
      const id = nextId('R');
      responseUrls.set(id, { ...ctx, uses: 0 });
      return `${origin}/response/${id}`;
    },

    failNext: (method, failure, times = 1) => {
      const queue = failures.get(method) ?? [];
      queue.push({ failure, remaining: times });
      failures.set(method, queue);
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },

    rateStats: () => ({
      ratelimited: { ...stats.ratelimited },
      ratelimitedTotal: stats.ratelimitedTotal,
      ratelimitedPostsByChannel: { ...stats.ratelimitedPostsByChannel },
      accepted: { ...stats.accepted },
      acceptedTotal: stats.acceptedTotal,
    }),
    resetRateStats: () => {
      stats = emptyStats();
    },
    setRateLimits,
    addWorkspace: (ws) => {
      const known = workspaceFor(ws.teamId, ws.teamName);
      if (ws.botUserId) known.botUserId = ws.botUserId;
      if (ws.botId) known.botId = ws.botId;
      tokens.set(ws.botToken, { ws: known, revoked: false, expiresAt: undefined });
    },
    workspaceBotUserId: (id) => workspaces.get(id)?.botUserId,
    revokeWorkspace: (id) => {
      for (const t of tokens.values()) if (t.ws.teamId === id) t.revoked = true;
    },
    oauth: oauthServer?.api,
    close: async () => {
      waiters.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
