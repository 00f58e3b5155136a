/**
 * GET /metrics (METRICS_PORT) scraped after real runs: an approved run, a rejected one and one still
 * waiting, with a 429 from Slack on the way. Every figure is checked against what the fakes and the
 * database saw, and no label carries user content or a secret.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply, type FakeReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, as far as these metrics use it. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.reduce((sum, s) => sum + s.value, 0);
}

const TASKS = {
  approve: 'email Sarah the secret Q2 numbers',
  reject: 'email Bob about the confidential merger',
  wait: 'email Carol the board minutes',
};

function script(body: { messages: Array<{ role: string; content: unknown }> }): FakeReply {
  const task = JSON.stringify(body.messages[0]?.content);
  const turn = body.messages.filter((m) => m.role === 'assistant').length;
  const to = task.includes('Sarah') ? 'sarah@acme.com' : task.includes('Bob') ? 'bob@acme.com' : 'carol@acme.com';
  if (turn === 0) return toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]);
  if (turn === 1) return toolUseReply([{ name: 'send_email', input: { to, subject: 'Secret numbers', body: 'Revenue grew 12%.' } }]);
  return textReply('Sent.');
}

describe('metrics', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  const scrape = async (path = '/metrics') => fetch(`http://127.0.0.1:${h.app.metricsPort}${path}`);

  it('are off unless METRICS_PORT is set', async () => {
    h = await startHarness();
    expect(h.app.metricsPort).toBeUndefined();
  });

  it('after runs: runs by status, approvals and their waits, click-to-dispatch, model usage and spend, Slack calls and 429s, outbox depth', async () => {
    h = await startHarness({ env: { METRICS_PORT: '0' } });
    expect(h.app.metricsPort).toBeGreaterThan(0);
    expect(h.app.metricsPort).not.toBe(h.app.port);
    h.claude.respond(script);
    // The first post of the outbox is rate-limited once: counted, then delivered.
    h.slack.failNext('chat.postMessage', { status: 429, retryAfter: 1 });

    await h.command(`run ${TASKS.approve}`);
    const [first] = await h.waitForCards(1);
    await h.click(first!, 'approve');
    await h.waitForRun((r) => r.status === 'completed');

    await h.command(`run ${TASKS.reject}`);
    const second = (await h.waitForCards(2))[1]!;
    await h.click(second, 'reject');
    await h.submitReject(second.actionId, 'not this one');
    await h.waitForRun((r) => r.status === 'cancelled');

    await h.command(`run ${TASKS.wait}`);
    await h.waitForCards(3);
    await h.app.engine.idle();
    await h.delivered();

    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const m = parse(text);

    expect(value(m, 'agent_runs', { status: 'completed' })).toBe(1);
    expect(value(m, 'agent_runs', { status: 'cancelled' })).toBe(1);
    expect(value(m, 'agent_runs', { status: 'awaiting_approval' })).toBe(1);
    expect(value(m, 'agent_runs', { status: 'failed' })).toBe(0);
    expect(value(m, 'agent_pending_approvals', { team_id: 'T_TEST' })).toBe(1);

    expect(value(m, 'agent_approvals_decided_total', { outcome: 'approved' })).toBe(1);
    expect(value(m, 'agent_approvals_decided_total', { outcome: 'rejected' })).toBe(1);
    expect(value(m, 'agent_approval_wait_seconds_count', { outcome: 'approved' })).toBe(1);
    expect(value(m, 'agent_approval_wait_seconds_count', { outcome: 'rejected' })).toBe(1);
    expect(value(m, 'agent_click_to_dispatch_seconds_count')).toBe(1);
    expect(value(m, 'agent_click_to_dispatch_seconds_bucket', { le: '+Inf' })).toBe(1);

    // Model calls, tokens by kind and spend agree with what the database recorded.
    const calls = await h.app.db.selectFrom('model_calls').selectAll().execute();
    expect(value(m, 'agent_model_calls_total', { model: 'claude-sonnet-5-5', outcome: 'ok' })).toBe(calls.length);
    const sum = (f: (c: (typeof calls)[number]) => number) => calls.reduce((s, c) => s + f(c), 0);
    expect(value(m, 'agent_model_tokens_total', { kind: 'input' })).toBe(sum((c) => c.input_tokens));
    expect(value(m, 'agent_model_tokens_total', { kind: 'output' })).toBe(sum((c) => c.output_tokens));
    expect(value(m, 'agent_model_tokens_total', { kind: 'cache_read' })).toBe(sum((c) => c.cache_read_tokens));
    expect(value(m, 'agent_model_tokens_total', { kind: 'cache_write_5m' })).toBe(sum((c) => c.cache_write_5m_tokens));
    expect(value(m, 'agent_model_tokens_total', { kind: 'cache_read' })).toBeGreaterThan(0);
    expect(value(m, 'agent_model_spend_usd_total')).toBeCloseTo(sum((c) => c.cost_usd), 5);
    expect(value(m, 'agent_model_spend_usd_total', { kind: 'cache_read' })).toBeGreaterThan(0);

    // Slack calls by method: what the fake Slack answered, 429 included.
    const fakeCalls = (method: string, ok: boolean) => h.slack.calls.filter((c) => c.method === method && c.ok === ok).length;
    expect(value(m, 'agent_slack_calls_total', { method: 'chat.postMessage', outcome: 'rate_limited' })).toBe(1);
    expect(value(m, 'agent_slack_calls_total', { method: 'chat.postMessage', outcome: 'ok' })).toBe(fakeCalls('chat.postMessage', true));
    expect(value(m, 'agent_slack_calls_total', { method: 'chat.update', outcome: 'ok' })).toBe(fakeCalls('chat.update', true));
    expect(value(m, 'agent_slack_outbox_depth', { state: 'queued' })).toBe(0);

    // Labels are models, methods, outcomes, kinds, statuses and workspace ids: never content or secrets.
    const labelValues = m.flatMap((s) => Object.values(s.labels));
    for (const secret of ['xoxb-test', 'sk-test', 'test-signing-secret', 'U_REQ', 'U_APPROVER', 'acme.com', 'Secret numbers', 'not this one', 'Sarah', 'merger']) {
      expect(text, secret).not.toContain(secret);
    }
    expect(labelValues.every((v) => /^[\w.+:-]*$/.test(v))).toBe(true);
  });

  it('scrapes see the state now: the pending gauge drops to 0 once decided; other paths are 404', async () => {
    h = await startHarness({ env: { METRICS_PORT: '0' } });
    h.claude.respond(script);
    await h.command(`run ${TASKS.wait}`);
    const [card] = await h.waitForCards(1);
    await waitUntil(async () => (value(parse(await (await scrape()).text()), 'agent_pending_approvals', { team_id: 'T_TEST' }) === 1 ? true : undefined), 'one pending approval');
    await h.click(card!, 'approve');
    await h.waitForRun((r) => r.status === 'completed');
    const m = parse(await (await scrape()).text());
    expect(value(m, 'agent_pending_approvals')).toBe(0);
    expect(value(m, 'agent_runs', { status: 'completed' })).toBe(1);
    expect((await scrape('/')).status).toBe(404);
    expect((await scrape('/healthz')).status).toBe(404);
  });
});
