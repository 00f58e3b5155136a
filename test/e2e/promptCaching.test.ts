/**
 * Prompt caching through the real app and the fake Claude's caching rules: a realistic run (knowledge
 * base and web results, one approval, 5 model calls) is charged cache reads from its second call on, the
 * stored conversation never carries a breakpoint, and people see what caching saved on the task message
 * and in `/agent status`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSafeFetcher } from '../../src/connectors/safeFetch.js';
import { textReply, toolUseReply, type FakeReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

/** Sonnet 5.5, USD per million tokens: input, 5-minute cache write (1.25x), cache read. */
const SONNET = { input: 2, write5m: 2.5, read: 0.1 };

const KNOWLEDGE = {
  'refunds.md': `# Refund policy\n\n${'Customers on annual plans can ask for a pro-rata refund within 30 days of renewal. '.repeat(40)}`,
  'pricing.md': `# Pricing notes\n\n${'The Team plan costs 12 USD per seat per month, billed yearly; volume discounts start at 50 seats. '.repeat(40)}`,
};
const PAGE = `<html><body><h1>Competitor pricing</h1>${'<p>Their Business tier is 15 USD per seat, with SSO included and a 14-day trial.</p>'.repeat(80)}</body></html>`;

function realisticRun(webUrl: string) {
  return (body: { messages: Array<{ role: string }> }): FakeReply => {
    const turn = body.messages.filter((m) => m.role === 'assistant').length;
    switch (turn) {
      case 0:
        return toolUseReply([{ name: 'search_knowledge_base', input: { query: 'pricing refund' } }], { thinking: 'Start with our own pricing notes.', text: 'Looking up our pricing.' });
      case 1:
        return toolUseReply([{ name: 'fetch_url', input: { url: webUrl } }], { thinking: 'Now the competitor page.' });
      case 2:
        return toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Pricing comparison', body: 'Hi Sarah,\n\nOurs: 12 USD per seat. Theirs: 15 USD.\n\nAlice' } }], { thinking: '', text: 'I will email Sarah the comparison.' });
      case 3:
        return toolUseReply([{ name: 'set_task_status', input: { status: 'done' } }]);
      default:
        return textReply('Emailed Sarah the pricing comparison.');
    }
  };
}

function breakpointPaths(body: unknown): string[] {
  const found: string[] = [];
  const walk = (x: unknown, path: string) => {
    if (Array.isArray(x)) x.forEach((y, i) => walk(y, `${path}.${i}`));
    else if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) (k === 'cache_control' ? found.push(path.slice(1)) : walk(y, `${path}.${k}`));
  };
  walk(body, '');
  return found;
}

describe('prompt caching', () => {
  let web: Server;
  let webUrl: string;
  let h: Harness;

  beforeAll(async () => {
    web = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    webUrl = `http://competitor.example:${(web.address() as AddressInfo).port}/pricing`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => web.close(() => r()));
  });
  afterEach(async () => {
    await h.close();
  });

  const start = () =>
    startHarness({
      knowledge: KNOWLEDGE,
      // The real safe fetcher, told that the competitor's host is this loopback server.
      overrides: { fetcher: createSafeFetcher({ resolve: async () => ['127.0.0.1'], addressAllowed: () => true }) },
    });

  async function runToCard() {
    h.claude.respond(realisticRun(webUrl));
    await h.command('run compare our pricing with the competitor and email Sarah');
    const [card] = await h.waitForCards(1);
    return card!;
  }

  async function calls(runId: string) {
    return h.app.db.selectFrom('model_calls').selectAll().where('run_id', '=', runId).orderBy('id').execute();
  }

  it('a realistic run reads its prefix back on every later call, stores no marker, and shows the saving', async () => {
    h = await start();
    const card = await runToCard();
    await h.click(card, 'approve');
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();

    const answered = h.claude.requests.filter((r) => r.status === 200);
    expect(h.claude.requests.filter((r) => r.rejected)).toEqual([]);
    expect(answered).toHaveLength(5);
    for (const r of answered) expect(breakpointPaths(r.body).length).toBeLessThanOrEqual(4);
    // The stable prefix (tools, system prompt) is marked from the first call; later calls also mark the
    // previous call's end and the new end of the conversation.
    const toolCount = answered[0]!.body.tools.length;
    expect(breakpointPaths(answered[0]!.body).sort()).toEqual(['messages.0.content.0', 'system.0', `tools.${toolCount - 1}`]);
    expect(breakpointPaths(answered[4]!.body).sort()).toEqual(['messages.6.content.0', 'messages.8.content.0', 'system.0', `tools.${toolCount - 1}`]);

    const rows = await calls(run.id);
    expect(rows).toHaveLength(5);
    expect(rows[0]!.cache_read_tokens).toBe(0);
    expect(rows[0]!.cache_write_5m_tokens).toBeGreaterThan(1024);
    for (const [i, row] of rows.entries()) {
      if (i === 0) continue;
      // Everything the previous call sent is read back; only what was added since is written.
      const prev = rows[i - 1]!;
      expect(row.cache_read_tokens).toBe(prev.cache_read_tokens + prev.cache_write_5m_tokens + prev.input_tokens);
    }

    // Not a byte of the stored conversation changed: no breakpoint was stored.
    const stored = await h.app.db.selectFrom('run_messages').select(['role', 'content_json']).where('run_id', '=', run.id).orderBy('seq').execute();
    expect(stored).toHaveLength(10);
    expect(stored.some((m) => m.content_json.includes('cache_control'))).toBe(false);
    // What the last call sent, markers aside, is exactly what is stored.
    const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'cache_control' ? undefined : x)));
    expect(strip(answered[4]!.body.messages)).toEqual(stored.slice(0, 9).map((m) => ({ role: m.role, content: JSON.parse(m.content_json) })));

    // What people see: the saving computed from the usage Claude reported, at Sonnet's prices.
    const saved = rows.reduce((s, r) => s + (r.cache_read_tokens * (SONNET.input - SONNET.read) - r.cache_write_5m_tokens * (SONNET.write5m - SONNET.input)) / 1e6, 0);
    expect(saved).toBeGreaterThan(0.005);
    const spent = rows.reduce((s, r) => s + r.cost_usd, 0);
    const task = JSON.stringify(h.taskMessage(run)?.blocks);
    expect(task).toContain(`spend $${spent.toFixed(4)} (prompt caching saved $${saved.toFixed(4)})`);
    const status = JSON.stringify((await h.command('status')).json);
    expect(status).toContain(`*Spend today (UTC):* $${spent.toFixed(4)} of $25.00 workspace cap (prompt caching saved $${saved.toFixed(4)})`);
  });

  it('an approval given after the cache expired writes the prefix again; the saving shown is what was really read', async () => {
    h = await start();
    const card = await runToCard();
    const beforeApproval = await calls((await h.onlyRun()).id);
    // Ten minutes at the card: longer than the 5-minute TTL.
    h.claude.advanceClock(10 * 60_000);
    await h.click(card, 'approve');
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();

    const rows = await calls(run.id);
    const resumed = rows[beforeApproval.length]!;
    expect(resumed.cache_read_tokens).toBe(0);
    const prev = rows[beforeApproval.length - 1]!;
    expect(resumed.cache_write_5m_tokens).toBeGreaterThan(prev.cache_read_tokens + prev.cache_write_5m_tokens);
    // The call after it reads again.
    expect(rows[beforeApproval.length + 1]!.cache_read_tokens).toBeGreaterThan(0);
    await waitUntil(() => JSON.stringify(h.taskMessage(run)?.blocks ?? []).includes('prompt caching'), 'the saving on the task message');
    const saved = rows.reduce((s, r) => s + (r.cache_read_tokens * (SONNET.input - SONNET.read) - r.cache_write_5m_tokens * (SONNET.write5m - SONNET.input)) / 1e6, 0);
    expect(JSON.stringify(h.taskMessage(run)?.blocks)).toContain(saved > 0 ? `(prompt caching saved $${saved.toFixed(4)})` : `(prompt caching cost $${(-saved).toFixed(4)} more)`);
  });
});
