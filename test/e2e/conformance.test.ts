import nock from 'nock';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { blockAction } from '../helpers/slackRequests.js';
import { REQUESTER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { liveSequences, sectionTexts, unfence } from '../helpers/slackText.js';

const HUBSPOT = 'https://hubspot.test';

/** Slack refuses a section whose text is empty (or blank) or longer than 3,000 characters. */
function expectValidSections(blocks: unknown): void {
  for (const b of blocks as Array<{ type?: string; text?: { text?: string } }>) {
    if (b.type !== 'section') continue;
    expect(b.text?.text?.trim().length ?? 0).toBeGreaterThan(0);
    expect(b.text!.text!.length).toBeLessThanOrEqual(3000);
  }
}

/** Issue 9, finding 6: what the app sends conforms to Slack's and HubSpot's published specs. */
describe('conformance (issue 9, finding 6)', () => {
  let h: Harness;
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(async () => {
    await h.close();
    nock.cleanAll();
  });
  afterAll(() => nock.enableNetConnect());

  it('View full sections stay within 3,000 characters, escapes and backtick breaks included', async () => {
    h = await startHarness();
    // Text that grows the most: every `&` becomes five characters, every third backtick gains a break.
    const body = '&&&```'.repeat(2000);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'x', body } }]));
    await h.command('run send it');
    const [card] = await h.waitForCards(1);
    expectValidSections(card!.message.blocks);
    await h.click(card!, 'view_full');
    const opened = await h.slack.waitFor('views.open', (_a, call) => call.ok);
    const blocks = (opened['view'] as { blocks: unknown[] }).blocks;
    expectValidSections(blocks);
    expect(sectionTexts(blocks).filter((s) => s.startsWith('```')).length).toBeGreaterThan(1);
    expect(h.slack.calls.filter((c) => c.method === 'views.open' && !c.ok)).toEqual([]);
    // The first page starts the body exactly (the rest is on the next pages).
    expect(body.startsWith(unfence(sectionTexts(blocks)))).toBe(true);
  });

  it('/agent log never emits an empty section or one over 3,000 characters, whatever the details hold', async () => {
    h = await startHarness();
    h.claude.enqueue(textReply('ok'));
    await h.command('run something');
    const run = await h.waitForRun((r) => r.status === 'completed');
    const at = new Date().toISOString();
    const long = '<!channel> & '.repeat(2000);
    await h.app.db
      .insertInto('activity')
      .values([
        { at, team_id: 'T_TEST', run_id: run.id, action_id: null, actor: 'system', kind: 'dispatch_refused', detail_json: JSON.stringify({ tool: 'send_email', why: long }) },
        { at, team_id: 'T_TEST', run_id: run.id, action_id: null, actor: 'system', kind: 'run_failed', detail_json: JSON.stringify({ message: long }) },
        { at, team_id: 'T_TEST', run_id: run.id, action_id: null, actor: 'system', kind: 'card_post_failed', detail_json: JSON.stringify({ error: long }) },
        ...Array.from({ length: 200 }, () => ({ at, team_id: 'T_TEST', run_id: run.id, action_id: null, actor: 'U_X', kind: 'rejected', detail_json: JSON.stringify({ tool: 'send_email', note: long }) })),
      ])
      .execute();
    const res = await h.command(`log ${run.id}`);
    const blocks = res.json.blocks as unknown[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    expectValidSections(blocks);
    expect(sectionTexts(blocks).join('\n')).not.toContain('<!channel>');
    expect(JSON.stringify(blocks)).toContain('more entries not shown');
  });

  it('the run-control resolution never renders an empty section when Slack sends no message text', async () => {
    h = await startHarness({ env: { RUN_COST_CAP_USD: '0.01' } });
    h.claude.enqueue(toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }], { usage: { input_tokens: 10_000, output_tokens: 100 } }));
    await h.command('run summarise Q2');
    const run = await h.waitForRun((r) => r.status === 'stopped');
    const msg = await waitUntil(() => h.threadReplies(run).find((m) => JSON.stringify(m.blocks ?? []).includes('run_stop')), 'the cap message');
    await blockAction(h.baseUrl, SIGNING_SECRET, {
      actionId: 'run_stop',
      value: run.id,
      userId: REQUESTER,
      channelId: run.channel_id,
      messageTs: msg.ts,
      threadTs: msg.thread_ts!,
      // Slack sometimes sends the message without its text: only the blocks.
      message: { blocks: msg.blocks ?? [] },
    });
    const update = await h.slack.waitFor('chat.update', (a) => a['ts'] === msg.ts);
    const call = h.slack.calls.find((c) => c.method === 'chat.update' && c.args['ts'] === msg.ts)!;
    expect(call.ok).toBe(true);
    expectValidSections(update['blocks']);
    expect(JSON.stringify(update['blocks'])).toContain('Left stopped by <@U_REQ>');
  });

  it('crm_search sends HubSpot the body its v3 search spec requires (filterGroups, sorts, after, limit, properties)', async () => {
    h = await startHarness({ env: { HUBSPOT_TOKEN: 'pat-test', HUBSPOT_API_URL: HUBSPOT } });
    // PublicObjectSearchRequest as published: these five are required; query is optional.
    const spec = z
      .object({
        filterGroups: z.array(z.object({ filters: z.array(z.object({ propertyName: z.string(), operator: z.string() }).loose()) })),
        sorts: z.array(z.string()),
        after: z.string(),
        limit: z.number().int().min(1).max(200),
        properties: z.array(z.string()),
        query: z.string().optional(),
      })
      .strict();
    const bodies: unknown[] = [];
    for (const kind of ['contacts', 'companies', 'deals']) {
      nock(HUBSPOT)
        .post(`/crm/v3/objects/${kind}/search`, (b) => (bodies.push(b), true))
        .reply(200, { total: 0, results: [] });
    }
    h.claude.enqueue(toolUseReply([{ name: 'crm_search', input: { query: 'acme' } }]), textReply('Nothing found.'));
    await h.command('run find acme in the CRM');
    await h.waitForRun((r) => r.status === 'completed');
    expect(bodies).toHaveLength(3);
    for (const b of bodies) expect(spec.safeParse(b).success).toBe(true);
    expect(bodies.every((b) => (b as { query?: string }).query === 'acme')).toBe(true);
    expect(liveSequences(JSON.stringify(bodies))).toEqual([]);
  });
});
