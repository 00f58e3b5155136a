/**
 * The Socket Mode fakes checked against the real clients: WebClient for apps.connections.open, and a plain
 * `ws` client speaking the protocol the way @slack/socket-mode does.
 */
import { WebAPIPlatformError, WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFakeSlack, type FakeSlack } from './fakeSlack.js';
import { startFakeSocketMode, type FakeSocketMode } from './fakeSocketMode.js';

const APP_TOKEN = 'xapp-1-fake';
const BOT_TOKEN = 'xoxb-fake';

function open(url: string): Promise<{ ws: WebSocket; messages: unknown[] }> {
  const ws = new WebSocket(url);
  const messages: unknown[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

async function until<T>(check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met');
}

describe('fake Socket Mode', () => {
  let sm: FakeSocketMode;
  let slack: FakeSlack;
  const clients: WebSocket[] = [];

  beforeEach(async () => {
    sm = await startFakeSocketMode();
    slack = await startFakeSlack({ botToken: BOT_TOKEN, appToken: APP_TOKEN, socketModeUrl: () => sm.issueUrl() });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    await Promise.all([sm.close(), slack.close()]);
  });

  const webClient = (token: string) => new WebClient(token, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });

  it('apps.connections.open takes the app token in the Authorization header only; other tokens are refused like Slack does', async () => {
    const res = await webClient(APP_TOKEN).apps.connections.open();
    expect(res.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=[0-9a-f]+&app_id=A_APP$/);

    const codeOf = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as WebAPIPlatformError).data?.error;
    expect(await codeOf(webClient(BOT_TOKEN).apps.connections.open())).toBe('not_allowed_token_type');
    expect(await codeOf(webClient('xapp-1-other').apps.connections.open())).toBe('invalid_auth');
    expect(await codeOf(webClient(APP_TOKEN).chat.postMessage({ channel: 'C1', text: 'hi' }))).toBe('not_allowed_token_type');
    // The token as a form field: Slack insists on the header for this method.
    const form = await fetch(`${slack.url}apps.connections.open`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: APP_TOKEN }).toString(),
    });
    expect(await form.json()).toEqual({ ok: false, error: 'not_authed' });
  });

  it('greets a link with hello, takes acks by envelope_id, and refuses a reused URL', async () => {
    const url = sm.issueUrl();
    const link = await open(url);
    clients.push(link.ws);
    const hello = await until(() => link.messages[0]);
    expect(hello).toMatchObject({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A_APP' }, debug_info: { host: 'fake-applink-1' } });

    const acked = sm.send('slash_commands', { command: '/agent', text: 'help' });
    const envelope = (await until(() => link.messages[1])) as { envelope_id: string; type: string; payload: unknown; accepts_response_payload: boolean };
    expect(envelope).toMatchObject({ type: 'slash_commands', payload: { command: '/agent', text: 'help' }, accepts_response_payload: true });
    link.ws.send(JSON.stringify({ envelope_id: envelope.envelope_id, payload: { text: 'ok' } }));
    expect(await acked).toMatchObject({ envelope_id: envelope.envelope_id, payload: { text: 'ok' } });

    link.ws.send(JSON.stringify({ envelope_id: 'nope' }));
    link.ws.send('not json');
    await until(() => (sm.protocolErrors.length === 2 ? true : undefined));
    expect(sm.protocolErrors[0]).toContain('ack for no pending envelope');
    expect(sm.protocolErrors[1]).toContain('not JSON');

    // A ticket is single-use, like Slack's.
    await expect(open(url)).rejects.toThrow(/401/);
    expect(sm.refused).toBe(1);

    sm.disconnect('refresh_requested', { close: true });
    await until(() => (link.ws.readyState === WebSocket.CLOSED ? true : undefined));
    expect(link.messages[2]).toEqual({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'fake-applink-1' } });
    expect(sm.connections[0]!.closed).toBe(true);
  });

  it('rejects a pending envelope when its link closes before the ack', async () => {
    const link = await open(sm.issueUrl());
    clients.push(link.ws);
    await sm.waitForConnection(1);
    const acked = sm.send('interactive', { type: 'block_actions' });
    sm.drop();
    await expect(acked).rejects.toThrow(/closed before envelope .* was acknowledged/);
  });
});
