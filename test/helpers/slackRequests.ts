/**
 * Signed requests to the app's Bolt HTTP receiver, shaped like the ones Slack sends: slash commands and
 * interactivity arrive form-encoded at `POST /slack/events`, interactive ones as one `payload` field of JSON.
 *
 * Response URLs default to a closed loopback port (tests must not leave the machine); pass
 * `fakeSlack.responseUrl(...)` to observe what the app sends through `respond()`.
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface SignedResponse {
  status: number;
  body: string;
  // Whatever JSON the app answered with (ack bodies are free-form).
  json?: any;
}

export interface PostSignedOptions {
  secret: string;
  /** Defaults to exactly `application/x-www-form-urlencoded`: Bolt rejects a `;charset=` suffix. */
  contentType?: string;
  timestamp?: number;
  /** Overrides the computed signature (to test rejection). */
  signature?: string;
  headers?: Record<string, string>;
}

export const FAKE_APP_ID = 'A_APP';
/** Slack still sends the deprecated verification token; Bolt ignores it in favour of the signature. */
const VERIFICATION_TOKEN = 'fake-verification-token';
/** Nothing listens on the discard port: a response_url nobody set up fails fast and stays on loopback. */
const DEAD_RESPONSE_URL_BASE = 'http://127.0.0.1:9';

export function signSlackRequest(
  secret: string,
  body: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): { 'x-slack-signature': string; 'x-slack-request-timestamp': string } {
  const digest = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${digest}`, 'x-slack-request-timestamp': String(timestamp) };
}

export async function postSigned(appBaseUrl: string, body: string, opts: PostSignedOptions): Promise<SignedResponse> {
  const signed = signSlackRequest(opts.secret, body, opts.timestamp);
  const res = await fetch(`${appBaseUrl.replace(/\/+$/, '')}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
      ...signed,
      ...(opts.signature !== undefined ? { 'x-slack-signature': opts.signature } : {}),
      ...opts.headers,
    },
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, body: text, ...(json !== undefined ? { json } : {}) };
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function randomDigits(n: number): string {
  let out = '';
  for (const b of randomBytes(n)) out += String(b % 10);
  return out;
}

/** Looks like Slack's `13345224609.738474920.8088930838d88f008e0`. */
export function fakeTriggerId(): string {
  return `${randomDigits(11)}.${randomDigits(9)}.${randomBytes(10).toString('hex')}`;
}

function deadResponseUrl(teamId: string, kind: 'commands' | 'actions'): string {
  return `${DEAD_RESPONSE_URL_BASE}/${kind}/${teamId}/${randomDigits(13)}/${randomBytes(12).toString('hex')}`;
}

const domainOf = (teamId: string): string => teamId.toLowerCase().replace(/[^a-z0-9]/g, '') || 'fake';

// ---------------------------------------------------------------------------------------------------
// Slash commands
// ---------------------------------------------------------------------------------------------------

export interface SlashCommandOptions {
  text: string;
  userId?: string;
  userName?: string;
  channelId?: string;
  channelName?: string;
  teamId?: string;
  command?: string;
  triggerId?: string;
  responseUrl?: string;
  timestamp?: number;
}

export function slashCommandBody(o: SlashCommandOptions): string {
  const teamId = o.teamId ?? 'T_TEST';
  const userId = o.userId ?? 'U_REQ';
  const channelId = o.channelId ?? 'C_TASKS';
  return form({
    token: VERIFICATION_TOKEN,
    team_id: teamId,
    team_domain: domainOf(teamId),
    channel_id: channelId,
    channel_name: o.channelName ?? channelId.toLowerCase(),
    user_id: userId,
    user_name: o.userName ?? userId.toLowerCase(),
    command: o.command ?? '/agent',
    text: o.text,
    api_app_id: FAKE_APP_ID,
    is_enterprise_install: 'false',
    response_url: o.responseUrl ?? deadResponseUrl(teamId, 'commands'),
    trigger_id: o.triggerId ?? fakeTriggerId(),
  });
}

export function slashCommand(appBaseUrl: string, secret: string, o: SlashCommandOptions): Promise<SignedResponse> {
  return postSigned(appBaseUrl, slashCommandBody(o), {
    secret,
    ...(o.timestamp !== undefined ? { timestamp: o.timestamp } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------
// Block actions (button clicks)
// ---------------------------------------------------------------------------------------------------

/** The clicked message, e.g. `fakeSlack.message(channel, ts)`: its blocks let block_id/label be found. */
export interface ClickedMessage {
  text?: string;
  blocks?: unknown[];
  user?: string;
  bot_id?: string;
  thread_ts?: string;
}

export interface BlockActionOptions {
  actionId: string;
  value: string;
  blockId?: string;
  userId: string;
  userName?: string;
  teamId?: string;
  channelId: string;
  channelName?: string;
  messageTs: string;
  threadTs?: string;
  triggerId?: string;
  responseUrl?: string;
  message?: ClickedMessage;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The block holding the element with this action_id (and that element), as Slack would report them. */
function findElement(blocks: unknown[] | undefined, actionId: string): { blockId?: string; element?: Json } {
  for (const block of blocks ?? []) {
    if (!isObject(block)) continue;
    const candidates = [
      ...(Array.isArray(block.elements) ? block.elements : []),
      ...(block.accessory !== undefined ? [block.accessory] : []),
      ...(block.element !== undefined ? [block.element] : []),
    ];
    const element = candidates.find((e): e is Json => isObject(e) && e.action_id === actionId);
    if (element) return { ...(typeof block.block_id === 'string' ? { blockId: block.block_id } : {}), element };
  }
  return {};
}

function nowActionTs(): string {
  const ms = Date.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
}

export function blockActionPayload(o: BlockActionOptions): Json {
  const teamId = o.teamId ?? 'T_TEST';
  const userName = o.userName ?? o.userId.toLowerCase();
  const found = findElement(o.message?.blocks, o.actionId);
  const threadTs = o.threadTs ?? o.message?.thread_ts;
  const label = isObject(found.element?.text) ? found.element.text : { type: 'plain_text', text: o.actionId, emoji: true };
  return {
    type: 'block_actions',
    user: { id: o.userId, username: userName, name: userName, team_id: teamId },
    api_app_id: FAKE_APP_ID,
    token: VERIFICATION_TOKEN,
    container: {
      type: 'message',
      message_ts: o.messageTs,
      channel_id: o.channelId,
      is_ephemeral: false,
      ...(threadTs ? { thread_ts: threadTs } : {}),
    },
    trigger_id: o.triggerId ?? fakeTriggerId(),
    team: { id: teamId, domain: domainOf(teamId) },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: o.channelId, name: o.channelName ?? o.channelId.toLowerCase() },
    message: {
      type: 'message',
      ts: o.messageTs,
      text: o.message?.text ?? '',
      ...(o.message?.user ? { user: o.message.user } : {}),
      ...(o.message?.bot_id ? { bot_id: o.message.bot_id } : {}),
      ...(o.message?.blocks ? { blocks: o.message.blocks } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}),
    },
    state: { values: {} },
    response_url: o.responseUrl ?? deadResponseUrl(teamId, 'actions'),
    actions: [
      {
        action_id: o.actionId,
        block_id: o.blockId ?? found.blockId ?? 'actions',
        text: label,
        value: o.value,
        ...(typeof found.element?.style === 'string' ? { style: found.element.style } : {}),
        type: 'button',
        action_ts: nowActionTs(),
      },
    ],
  };
}

export function blockAction(appBaseUrl: string, secret: string, o: BlockActionOptions): Promise<SignedResponse> {
  return postSigned(appBaseUrl, form({ payload: JSON.stringify(blockActionPayload(o)) }), { secret });
}

// ---------------------------------------------------------------------------------------------------
// View submissions (modals)
// ---------------------------------------------------------------------------------------------------

export type ViewStateValue = { type: string; value?: string | null; [key: string]: unknown };

export interface ViewSubmissionOptions {
  callbackId: string;
  privateMetadata: string;
  values: Record<string, Record<string, ViewStateValue>>;
  userId: string;
  userName?: string;
  teamId?: string;
  viewId?: string;
  /** The opened view, e.g. `fakeSlack.view(id)`: its blocks, title and hash are echoed like Slack does. */
  view?: { blocks?: unknown[]; title?: unknown; hash?: string };
}

export function viewSubmissionPayload(o: ViewSubmissionOptions): Json {
  const teamId = o.teamId ?? 'T_TEST';
  const userName = o.userName ?? o.userId.toLowerCase();
  const viewId = o.viewId ?? `V${randomDigits(10)}`;
  return {
    type: 'view_submission',
    team: { id: teamId, domain: domainOf(teamId) },
    user: { id: o.userId, username: userName, name: userName, team_id: teamId },
    api_app_id: FAKE_APP_ID,
    token: VERIFICATION_TOKEN,
    trigger_id: fakeTriggerId(),
    view: {
      id: viewId,
      team_id: teamId,
      type: 'modal',
      blocks: o.view?.blocks ?? [],
      private_metadata: o.privateMetadata,
      callback_id: o.callbackId,
      state: { values: o.values },
      hash: o.view?.hash ?? `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      title: o.view?.title ?? { type: 'plain_text', text: 'Modal', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: null,
      submit: null,
      previous_view_id: null,
      root_view_id: viewId,
      app_id: FAKE_APP_ID,
      external_id: '',
      app_installed_team_id: teamId,
      bot_id: 'B_BOT',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export function viewSubmission(appBaseUrl: string, secret: string, o: ViewSubmissionOptions): Promise<SignedResponse> {
  return postSigned(appBaseUrl, form({ payload: JSON.stringify(viewSubmissionPayload(o)) }), { secret });
}

// ---------------------------------------------------------------------------------------------------
// Events API (JSON body), e.g. app_home_opened
// ---------------------------------------------------------------------------------------------------

/** The `event_callback` envelope Slack wraps every event in (the HTTP body, or a Socket Mode payload). */
export function eventEnvelope(event: Json, opts: { teamId?: string; eventId?: string } = {}): Json {
  const teamId = opts.teamId ?? 'T_TEST';
  return {
    token: VERIFICATION_TOKEN,
    team_id: teamId,
    api_app_id: FAKE_APP_ID,
    event: { event_ts: nowActionTs(), ...event },
    type: 'event_callback',
    event_id: opts.eventId ?? `Ev${randomDigits(10)}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: teamId, user_id: 'U_BOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
}

export function eventCallback(
  appBaseUrl: string,
  secret: string,
  event: Json,
  opts: { teamId?: string; eventId?: string; retryNum?: number } = {},
): Promise<SignedResponse> {
  const body = JSON.stringify(eventEnvelope(event, opts));
  // Slack marks redeliveries; Bolt surfaces them as context.retryNum.
  const retry: Record<string, string> =
    opts.retryNum !== undefined ? { 'x-slack-retry-num': String(opts.retryNum), 'x-slack-retry-reason': 'http_timeout' } : {};
  return postSigned(appBaseUrl, body, { secret, contentType: 'application/json', headers: retry });
}

// ---------------------------------------------------------------------------------------------------
// Events a person's message produces (the event object; send it with `eventCallback`)
// ---------------------------------------------------------------------------------------------------

export interface PersonMessageEventOptions {
  user: string;
  text: string;
  channel: string;
  ts: string;
  /** The thread the message was written in (its parent's ts). */
  threadTs?: string;
  teamId?: string;
  /** The writer's own workspace, as Slack sends it (another organisation's in a Slack Connect channel). */
  userTeam?: string;
  /** A bot's or app's message carries these. */
  botId?: string;
  subtype?: string;
}

/** `app_mention`, as Slack sends it when someone mentions the app in a channel (text has `<@U_BOT>`). */
export function appMentionEvent(o: PersonMessageEventOptions): Json {
  const teamId = o.teamId ?? 'T_TEST';
  return {
    type: 'app_mention',
    client_msg_id: randomBytes(16).toString('hex'),
    text: o.text,
    ...(o.botId ? { bot_id: o.botId } : { user: o.user }),
    ...(o.subtype ? { subtype: o.subtype } : {}),
    ts: o.ts,
    ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
    team: o.userTeam ?? teamId,
    ...(o.userTeam ? { user_team: o.userTeam, source_team: o.userTeam } : {}),
    channel: o.channel,
    event_ts: o.ts,
  };
}

/** `message` with `channel_type: im` (the `message.im` subscription): a message in the app's DM. */
export function directMessageEvent(o: PersonMessageEventOptions): Json {
  const teamId = o.teamId ?? 'T_TEST';
  return {
    type: 'message',
    ...(o.subtype ? { subtype: o.subtype } : {}),
    client_msg_id: randomBytes(16).toString('hex'),
    text: o.text,
    ...(o.botId ? { bot_id: o.botId, user: o.user } : { user: o.user }),
    ts: o.ts,
    ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
    team: o.userTeam ?? teamId,
    channel: o.channel,
    event_ts: o.ts,
    channel_type: 'im',
  };
}

/** `assistant_thread_started`: someone opened a thread on the app's AI surface. */
export function assistantThreadStartedEvent(o: { user: string; channel: string; threadTs: string; teamId?: string }): Json {
  return {
    type: 'assistant_thread_started',
    assistant_thread: {
      user_id: o.user,
      context: { channel_id: 'C_TASKS', team_id: o.teamId ?? 'T_TEST', enterprise_id: null },
      channel_id: o.channel,
      thread_ts: o.threadTs,
    },
    event_ts: o.threadTs,
  };
}

// ---------------------------------------------------------------------------------------------------
// App Home
// ---------------------------------------------------------------------------------------------------

/** `app_home_opened`, as Slack sends it when someone opens one of the app's tabs. */
export function appHomeOpenedEvent(o: { user: string; tab?: 'home' | 'messages'; viewId?: string }): Json {
  return { type: 'app_home_opened', user: o.user, channel: `D${o.user}`, tab: o.tab ?? 'home', ...(o.viewId ? { view: { id: o.viewId, type: 'home' } } : {}) };
}

export interface HomeBlockActionOptions {
  actionId: string;
  value?: string;
  userId: string;
  /** The clicker's own workspace or organisation (`user.team_id`); default the workspace's. */
  userTeam?: string;
  teamId?: string;
  /** The Home view as the clicker sees it (`fakeSlack.homeView(user)`): its blocks, id and hash are echoed. */
  view: { id: string; hash: string; blocks: unknown[] };
  /** What is ticked, as Slack reports the view's state: block_id -> action_id -> selected option values. */
  selected?: Record<string, Record<string, string[]>>;
  triggerId?: string;
}

/**
 * A click in the app's Home tab: a view container, the view with its state, a trigger_id, and no
 * response_url (Slack sends none for Home tab clicks).
 */
export function homeBlockActionPayload(o: HomeBlockActionOptions): Json {
  const teamId = o.teamId ?? 'T_TEST';
  const found = findElement(o.view.blocks, o.actionId);
  const values: Record<string, Record<string, Json>> = {};
  for (const [blockId, byAction] of Object.entries(o.selected ?? {})) {
    values[blockId] = {};
    for (const [actionId, picked] of Object.entries(byAction)) {
      const element = findElement(o.view.blocks, actionId).element;
      const options = (Array.isArray(element?.options) ? element.options : []) as Json[];
      values[blockId][actionId] = { type: 'checkboxes', selected_options: picked.map((v) => options.find((opt) => opt.value === v) ?? { text: { type: 'plain_text', text: v }, value: v }) };
    }
  }
  const label = isObject(found.element?.text) ? found.element.text : { type: 'plain_text', text: o.actionId, emoji: true };
  return {
    type: 'block_actions',
    user: { id: o.userId, username: o.userId.toLowerCase(), name: o.userId.toLowerCase(), team_id: o.userTeam ?? teamId },
    api_app_id: FAKE_APP_ID,
    token: VERIFICATION_TOKEN,
    container: { type: 'view', view_id: o.view.id },
    trigger_id: o.triggerId ?? fakeTriggerId(),
    team: { id: teamId, domain: domainOf(teamId) },
    enterprise: null,
    is_enterprise_install: false,
    view: {
      id: o.view.id,
      team_id: teamId,
      type: 'home',
      blocks: o.view.blocks,
      private_metadata: '',
      callback_id: '',
      state: { values },
      hash: o.view.hash,
      root_view_id: o.view.id,
      previous_view_id: null,
      app_id: FAKE_APP_ID,
      bot_id: 'B_BOT',
    },
    actions: [
      found.element?.type === 'checkboxes'
        ? {
            action_id: o.actionId,
            block_id: found.blockId ?? 'actions',
            type: 'checkboxes',
            selected_options: found.blockId ? (values[found.blockId]?.[o.actionId]?.['selected_options'] ?? []) : [],
            action_ts: nowActionTs(),
          }
        : {
            action_id: o.actionId,
            block_id: found.blockId ?? 'actions',
            text: label,
            ...(o.value !== undefined ? { value: o.value } : {}),
            type: 'button',
            action_ts: nowActionTs(),
          },
    ],
  };
}

export function homeBlockAction(appBaseUrl: string, secret: string, o: HomeBlockActionOptions): Promise<SignedResponse> {
  return postSigned(appBaseUrl, form({ payload: JSON.stringify(homeBlockActionPayload(o)) }), { secret });
}
