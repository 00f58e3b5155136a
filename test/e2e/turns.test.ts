import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorReply, rawReply, textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { finalText } from '../helpers/finalAnswer.js';

describe('model turns: validation, parallel calls, stop reasons, failures', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const answered = () => h.claude.requests.filter((r) => !r.rejected).map((r) => r.body);

  it('invalid tool input goes back to the model as an is_error result and never reaches a card', async () => {
    h.claude.enqueue(
      toolUseReply([{ name: 'send_email', input: { to: 'not-an-address', subject: 'Hi', body: 'x' } }]),
      textReply('I could not send: the address was invalid.'),
    );
    await h.command('run email someone');
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(h.cards()).toHaveLength(0);
    expect(h.smtp.dataAttempts()).toBe(0);
    const result = answered()[1].messages.at(-1).content[0];
    expect(result.type).toBe('tool_result');
    expect(result.is_error).toBe(true);
    expect(result.content).toMatch(/Invalid input for send_email: to/);
    expect(run.status).toBe('completed');
  });

  it('a tool the model invents is refused as an error result', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'make_purchase', input: { item: 'laptop' } }]), textReply('I cannot buy things.'));
    await h.command('run buy a laptop');
    await h.waitForRun((r) => r.status === 'completed');
    const result = answered()[1].messages.at(-1).content[0];
    expect(result).toMatchObject({ type: 'tool_result', is_error: true });
    expect(h.cards()).toHaveLength(0);
  });

  it('parallel calls: low-risk ones run, each approval gets a card, nothing is sent until all are approved, one user message carries every result', async () => {
    h.claude.enqueue(
      toolUseReply(
        [
          { name: 'search_knowledge_base', input: { query: 'Q2' } },
          { name: 'send_email', input: { to: 'a@acme.com', subject: 'Q2 for A', body: 'A body' } },
          { name: 'send_email', input: { to: ['b@acme.com', 'c@acme.com'], subject: 'Q2 for B', body: 'B body' } },
        ],
        { text: 'Searching and emailing both.' },
      ),
      textReply('Both emails sent.'),
    );
    await h.command('run email A and B the Q2 numbers');
    const cards = await h.waitForCards(2);
    expect(JSON.stringify(cards[0]!.message.blocks)).toContain('one of 2 actions proposed together');

    await h.click(cards[0]!, 'approve');
    await waitUntil(() => JSON.stringify(h.slack.message(cards[0]!.channel, cards[0]!.ts)?.blocks).includes('waiting for 1 more approval'), 'first card waiting');
    await h.app.engine.idle();
    expect(h.smtp.dataAttempts()).toBe(0);
    expect(answered()).toHaveLength(1);

    await h.click(cards[1]!, 'approve');
    await h.smtp.waitForMail(2);
    await h.waitForRun((r) => r.status === 'completed');

    const second = answered()[1];
    const toolUses = second.messages[1].content.filter((b: { type: string }) => b.type === 'tool_use');
    const results = second.messages[2].content;
    expect(results).toHaveLength(3);
    expect(results.map((r: { tool_use_id: string }) => r.tool_use_id)).toEqual(toolUses.map((t: { id: string }) => t.id));
    expect(results.every((r: { type: string }) => r.type === 'tool_result')).toBe(true);
    expect(results[0].content).toContain('Knowledge-base search results');
  });

  it('one rejection cancels the other card of the same turn: nothing is sent', async () => {
    h.claude.enqueue(
      toolUseReply([
        { name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } },
        { name: 'send_email', input: { to: 'b@acme.com', subject: 'B', body: 'B' } },
      ]),
    );
    await h.command('run email A and B');
    const cards = await h.waitForCards(2);
    await h.click(cards[0]!, 'approve');
    await h.submitReject(cards[1]!.actionId, null);
    await h.waitForRun((r) => r.status === 'cancelled');
    await waitUntil(() => JSON.stringify(h.slack.message(cards[0]!.channel, cards[0]!.ts)?.blocks).includes('Cancelled'), 'approved card cancelled');
    await h.app.engine.idle();
    expect(h.smtp.dataAttempts()).toBe(0);
    expect(answered()).toHaveLength(1);
  });

  it('pause_turn continues by sending the assistant content back', async () => {
    h.claude.enqueue(rawReply({ content: [{ type: 'text', text: 'Working…' }], stopReason: 'pause_turn' }), textReply('All done.'));
    await h.command('run a long task');
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(answered()[1].messages.at(-1).role).toBe('assistant');
    await waitUntil(() => h.threadTexts(run).includes(finalText('All done.')), 'answer');
  });

  it('refusal and context-window stops end the run with an explanation', async () => {
    h.claude.enqueue(rawReply({ content: [{ type: 'text', text: '' }], stopReason: 'refusal' }));
    await h.command('run something bad');
    const run = await h.waitForRun((r) => r.status === 'failed');
    expect(run.error_code).toBe('model_refusal');
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes('declined')), 'refusal explained');

    h.claude.enqueue(rawReply({ content: [{ type: 'text', text: 'partial' }], stopReason: 'model_context_window_exceeded' }));
    await h.command('run something huge');
    const big = await h.waitForRun((r) => r.error_code === 'context_window_exceeded');
    expect(big.status).toBe('failed');
  });

  it('max_tokens in the middle of a tool call is retried once with a larger budget', async () => {
    h.claude.enqueue(
      rawReply({ content: [{ type: 'tool_use', id: 'toolu_cut', name: 'search_knowledge_base', input: {} }], stopReason: 'max_tokens' }),
      toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2' } }]),
      textReply('Found it.'),
    );
    await h.command('run find Q2');
    const run = await h.waitForRun((r) => r.status === 'completed');
    const bodies = answered();
    expect(bodies[1].max_tokens).toBeGreaterThan(bodies[0].max_tokens);
    expect(run.turns).toBe(3);
  });

  it('a Claude API error ends the run as failed with a clear message and a hint to rerun', async () => {
    h.claude.enqueue(errorReply(529));
    await h.command('run anything');
    const run = await h.waitForRun((r) => r.status === 'failed');
    await waitUntil(() => h.threadTexts(run).some((t) => t.includes('overloaded (529)')), 'failure explained');
    expect(h.threadTexts(run).join('\n')).toContain(`/agent rerun ${run.id}`);
    // The run read at failure may predate its task message's ts (the failure can come first): find it.
    await waitUntil(() => JSON.stringify(h.taskMessage(run)?.blocks ?? []).includes(':x: failed'), 'task message shows failed');
  });

  it('fetch_url refuses private addresses and the model hears why', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'fetch_url', input: { url: 'http://169.254.169.254/latest/meta-data' } }]), textReply('That address is not allowed.'));
    await h.command('run read the metadata service');
    await h.waitForRun((r) => r.status === 'completed');
    const result = answered()[1].messages.at(-1).content[0];
    expect(result.is_error).toBe(true);
    expect(result.content).toContain('169.254.169.254 is not a public internet address');
  });
});

describe('/agent help and bad input', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('help, empty and unknown subcommands answer privately with usage and start nothing', async () => {
    for (const text of ['', 'help', 'frobnicate now', 'run', 'log', 'log 42', 'cancel nope']) {
      const res = await h.command(text);
      expect(res.status).toBe(200);
      expect(res.json.response_type).toBe('ephemeral');
      // Escaped on the wire (Slack would read a bare <task> as a link); Slack shows it as /agent run <task>.
      expect(res.json.text).toContain('/agent run &lt;task&gt;');
    }
    expect(await h.app.db.selectFrom('runs').select('id').execute()).toHaveLength(0);
    expect(h.claude.requests).toHaveLength(0);
  });

  it('log and status of an unknown run say so', async () => {
    const res = await h.command('log r-zzzzzz');
    expect(res.json.text).toContain('There is no run `r-zzzzzz`');
  });

  it('status shows the workspace state and which tools are offered', async () => {
    const res = await h.command('status');
    const text = JSON.stringify(res.json);
    expect(text).toContain('Pending approvals');
    expect(text).toContain('send_email');
    expect(text).toContain('search_knowledge_base');
  });

  it('cancel by the requester closes the pending card; nobody else may cancel', async () => {
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: 'A', body: 'A' } }]));
    await h.command('run email A');
    const [card] = await h.waitForCards(1);
    const run = await h.onlyRun();
    const denied = await h.command(`cancel ${run.id}`, { userId: 'U_APPROVER' });
    expect(denied.json.text).toContain('Only the requester');
    const ok = await h.command(`cancel ${run.id}`);
    expect(ok.json.text).toContain('cancelled');
    expect((await h.run(run.id)).status).toBe('cancelled');
    await waitUntil(() => JSON.stringify(h.slack.message(card!.channel, card!.ts)?.blocks).includes('Cancelled'), 'card closed');
    await h.click(card!, 'approve');
    await h.app.engine.idle();
    expect(h.smtp.dataAttempts()).toBe(0);
  });
});
