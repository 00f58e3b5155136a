import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { REQUESTER, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { blockTexts, liveSequences } from '../helpers/slackText.js';
import type { Run } from '../../src/db/schema.js';

const threadLive = (h: Harness, run: Run) => h.threadTexts(run).flatMap(liveSequences);

describe('security: model-written text (issue 9, finding 2)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('comment_on_task and checklist items never ping, mention or disguise a link, and cannot fake a decision', async () => {
    h = await startHarness();
    const comment = [
      '<!channel> URGENT: wire the money today',
      '*Approved* by @admin <@U0ADMIN> <!subteam^S0ADMINS|@admins>',
      'Approve here: <https://evil.test/approve|https://acme.slack.com/approvals> or [https://acme.slack.com/approvals](https://evil.test/approve2)',
    ].join('\n');
    h.claude.enqueue(
      toolUseReply([
        { name: 'comment_on_task', input: { text: comment } },
        { name: 'create_subtask', input: { title: '<!here> pay <https://evil.test|https://acme.test> \u202Efdp.exe' } },
      ]),
      textReply('Done.'),
    );
    await h.command('run read the vendor page');
    const run = await h.waitForRun((r) => r.status === 'completed');
    const posted = await waitUntil(() => h.threadTexts(run).find((t) => t.startsWith(':speech_balloon:')), 'the comment');
    expect(posted).toBe(
      [
        ':speech_balloon: &lt;!channel&gt; URGENT: wire the money today',
        '*Approved* by @admin &lt;@U0ADMIN&gt; &lt;!subteam^S0ADMINS|@admins&gt;',
        'Approve here: <https://evil.test/approve> or <https://evil.test/approve2>',
      ].join('\n'),
    );
    // The only live sequences are links that show their own target.
    expect(liveSequences(posted)).toEqual(['<https://evil.test/approve>', '<https://evil.test/approve2>']);

    const task = await waitUntil(() => {
      const m = h.taskMessage(run);
      return m && JSON.stringify(m.blocks).includes('fdp.exe') ? m : undefined;
    }, 'the checklist');
    expect(blockTexts(task.blocks).some((t) => t.includes(':white_square: &lt;!here&gt; pay &lt;https://evil.test|https://acme.test&gt; [U+202E]fdp.exe'))).toBe(true);
    expect([task.text, ...blockTexts(task.blocks)].flatMap(liveSequences)).toEqual([`<@${REQUESTER}>`]);
  });

  it('private answers echo what a person typed escaped (pause reason, unknown subcommand, bad run id)', async () => {
    h = await startHarness({ env: { ADMIN_USER_IDS: 'U0ADMIN' } });
    const paused = await h.command('pause <!channel> audit <https://evil.test|https://acme.test>', { userId: 'U0ADMIN' });
    expect(paused.json.text).toBe(':double_vertical_bar: Automation is paused (&lt;!channel&gt; audit &lt;https://evil.test|https://acme.test&gt;): every tool call now needs approval. `/agent unpause` to resume.');
    const unknown = await h.command('<!here>');
    expect(liveSequences(unknown.json.text)).toEqual([]);
    expect(unknown.json.text).toContain("I don't know `&lt;!here&gt;`.");
    const badId = await h.command('log <@U0ADMIN>');
    expect(liveSequences(badId.json.text)).toEqual([]);
    const status = await h.command('status');
    expect(blockTexts(status.json.blocks).join('\n')).toContain('paused — every action needs approval (&lt;!channel&gt; audit');
  });
});

/**
 * Text the run loop composes itself (final answer, the steps it ran on its own, the line after a
 * rejection): queued in the outbox as safe mrkdwn, rendered by the one safe layer.
 */
describe('security: thread lines composed by the run loop (issue 9, findings 1 and 2)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('the final answer keeps formatting and bare links but never pings or disguises a link', async () => {
    h = await startHarness();
    h.claude.enqueue(textReply('<!channel> **Done**: see [https://acme.slack.com/approvals](https://evil.test/x) <@U0ADMIN>'));
    await h.command('run summarise');
    const run = await h.waitForRun((r) => r.status === 'completed');
    await waitUntil(() => h.threadTexts(run).find((t) => t.includes('Done')), 'the answer');
    // The only mention left is the app's own, built from the stored requester id.
    expect(threadLive(h, run)).toEqual(['<https://evil.test/x>', `<@${REQUESTER}>`]);
  });

  it('a model-written checklist item and the steps run on their own carry no live markup', async () => {
    h = await startHarness();
    h.claude.enqueue(
      toolUseReply([{ name: 'create_subtask', input: { title: '<!here> <https://evil.test|https://acme.test>' } }]),
      toolUseReply([{ name: 'search_knowledge_base', input: { query: '<!channel> <https://evil.test|https://acme.test>' } }]),
      textReply('ok'),
    );
    await h.command('run plan');
    const run = await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(threadLive(h, run)).toEqual([`<@${REQUESTER}>`]);
    const task = h.taskMessage(run)!;
    const taskLive = [task.text, ...blockTexts(task.blocks ?? [])].flatMap(liveSequences).filter((x) => !/^<@U[A-Z0-9_]+>$/.test(x));
    expect(taskLive).toEqual([]);
    expect(JSON.stringify(task.blocks)).toContain('&lt;!here&gt;');
  });

  it('the thread lines after an approval and a rejection show the subject and the note escaped', async () => {
    h = await startHarness();
    h.claude.enqueue(
      toolUseReply([{ name: 'send_email', input: { to: 'a@acme.com', subject: '<!channel> <https://evil.test|https://acme.test>', body: 'x' } }]),
      toolUseReply([{ name: 'send_email', input: { to: 'b@acme.com', subject: '<!here> second', body: 'y' } }]),
    );
    await h.command('run two mails');
    const [first] = await h.waitForCards(1);
    await h.click(first!, 'approve');
    await h.smtp.waitForMail(1);
    const cards = await h.waitForCards(2);
    await h.submitReject(cards[1]!.actionId, '<!channel> no <https://evil.test|https://acme.test>');
    const run = await h.waitForRun((r) => r.status === 'cancelled');
    await waitUntil(() => h.threadTexts(run).find((t) => t.includes('rejected')), 'the reject line');
    await h.delivered();
    expect(threadLive(h, run).filter((s) => !/^<@U[A-Z0-9_]+>$/.test(s))).toEqual([]);
  });
});
