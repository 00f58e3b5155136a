import { afterEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { postSigned, blockActionPayload } from '../helpers/slackRequests.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';
import { blockTexts, decodeEntities, liveSequences, sectionTexts, unfence } from '../helpers/slackText.js';
import type { FakeSlackView } from '../helpers/fakeSlack.js';

const EVIL_LINK = '<https://evil.test/pay|https://acme.test/invoice>';

/** Opens View full from a card and turns every page; returns the section texts of all pages in order. */
async function readViewFull(h: Harness, card: Awaited<ReturnType<Harness['waitForCards']>>[number], userId = APPROVER): Promise<string[]> {
  const before = h.slack.views.length;
  await h.click(card, 'view_full', userId);
  const view = await waitUntil(() => (h.slack.views.length > before ? h.slack.views.at(-1) : undefined), 'the View full modal');
  const pages: unknown[][] = [view.blocks];
  for (;;) {
    const current = h.slack.view(view.id)!;
    const next = findButton(current, 'view_full_page_next');
    if (!next) break;
    const seen = current.history.length;
    const payload = blockActionPayload({ actionId: 'view_full_page_next', value: next, userId, channelId: 'C_TASKS', messageTs: '1.000' }) as Record<string, unknown>;
    payload['container'] = { type: 'view', view_id: view.id };
    payload['view'] = { id: view.id, hash: current.hash, private_metadata: current.private_metadata ?? '', type: 'modal', blocks: current.blocks };
    delete payload['channel'];
    delete payload['message'];
    await postSigned(h.baseUrl, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), { secret: SIGNING_SECRET });
    await waitUntil(() => (h.slack.view(view.id)!.history.length > seen ? true : undefined), 'the next page');
    pages.push(h.slack.view(view.id)!.blocks);
    if (pages.length > 40) throw new Error('too many pages');
  }
  return pages.flatMap((p) => sectionTexts(p));
}

function findButton(view: FakeSlackView, actionId: string): string | undefined {
  for (const b of view.blocks as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>) {
    const el = b.elements?.find((e) => e.action_id === actionId);
    if (el?.value) return el.value;
  }
  return undefined;
}

describe('security: what cards show (issue 9, findings 1 and 3)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('finding 1: a disguised link or a ping in an email never reaches the card, its fallback text or View full as markup; the mail is sent exactly', async () => {
    h = await startHarness();
    const subject = `<!channel> Invoice ${EVIL_LINK}`;
    const body = `Hi,\n\nPay here: ${EVIL_LINK}\n<!here> <@U0BOSS> <!subteam^S0ADMINS> &amp; \`\`\`\n${'The details, at length. '.repeat(150)}\nEnd: ${EVIL_LINK} <!everyone>`;
    h.claude.enqueue(
      toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject, body } }], { text: 'Paying now <!channel> <https://evil.test|https://acme.test>' }),
      textReply('Sent.'),
    );
    await h.command('run pay the invoice');
    const [card] = await h.waitForCards(1);
    const posted = card!.message.history[0] ?? card!.message;

    // Fallback text (notifications are built from it) and every block: the only live sequence is the requester
    // (mentioned as the decider when no approvers are named: in the text, the "waiting for" line and "requested by").
    expect(posted.text).toBe(`Approval needed for run ${(await h.onlyRun()).id}: Send email to sarah@acme.com, subject '&lt;!channel&gt; Invoice &lt;https://evil.test/pay|https://acme.test/invoice&gt;' (<@${REQUESTER}>)`);
    const texts = [posted.text, ...blockTexts(posted.blocks)];
    expect(texts.flatMap(liveSequences)).toEqual([`<@${REQUESTER}>`, `<@${REQUESTER}>`, `<@${REQUESTER}>`]);
    const sections = sectionTexts(posted.blocks);
    expect(sections).toContain('*Subject:* &lt;!channel&gt; Invoice &lt;https://evil.test/pay|https://acme.test/invoice&gt;');
    const bodySection = sections.find((s) => s.startsWith('*Email body'))!;
    expect(bodySection).toMatch(/^\*Email body \(first [\d,]+ of [\d,]+ characters\):\*\n```Hi,\n\nPay here: &lt;https:\/\/evil\.test\/pay\|https:\/\/acme\.test\/invoice&gt;\n&lt;!here&gt; &lt;@U0BOSS&gt; &lt;!subteam\^S0ADMINS&gt; &amp;amp; ``\u200b`\n/);
    expect(sections.some((s) => s.includes('\n>Paying now &lt;!channel&gt; &lt;https://evil.test|https://acme.test&gt;'))).toBe(true);
    for (const b of posted.blocks as Array<{ text?: { type?: string; verbatim?: boolean } }>) if (b.text?.type === 'mrkdwn') expect(b.text.verbatim).toBe(true);

    // View full: no live sequence at all, and the fences give back the exact body.
    const full = await readViewFull(h, card!);
    expect(full.flatMap(liveSequences)).toEqual([]);
    expect(unfence(full)).toBe(body);

    await h.click(card!, 'approve');
    const [mail] = await h.smtp.waitForMail(1);
    expect(mail!.headers.subject).toBe(subject);
    expect(mail!.text.trim()).toBe(body.trim());
    const run = await h.waitForRun((r) => r.status === 'completed');
    await waitUntil(() => (h.slack.message(card!.channel, card!.ts)!.history.length > 0 ? true : undefined), 'the card update');
    const decided = h.slack.message(card!.channel, card!.ts)!;
    const live = [decided.text, ...blockTexts(decided.blocks)].flatMap(liveSequences);
    expect(live.every((s) => s === `<@${REQUESTER}>` || s === `<@${APPROVER}>` || s.startsWith('<!date^'))).toBe(true);
    expect(run.status).toBe('completed');
  });

  it('finding 3: 45 long To addresses and 5 Cc are all accounted for on the card, all listed in View full, and the mail goes to exactly those 50', async () => {
    h = await startHarness();
    const to = Array.from({ length: 45 }, (_, i) => `recipient-${String(i).padStart(2, '0')}-${'x'.repeat(80)}@partner-${i}.example.test`);
    const cc = Array.from({ length: 5 }, (_, i) => `copy-${i}-${'y'.repeat(30)}@observer.example.test`);
    const body = 'Please pay the attached invoice.\u202Efdp.exe\u200B — thanks';
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to, cc, subject: 'Invoice', body } }]), textReply('Sent.'));
    await h.command('run send the invoice to all partners');
    const [card] = await h.waitForCards(1);
    const sections = sectionTexts(card!.message.blocks);
    const cardText = decodeEntities([...sections, ...blockTexts(card!.message.blocks)].join('\n'));

    // Every address the card does not show is counted, in the To line and in a "not shown" line.
    const shownTo = to.filter((a) => cardText.includes(a));
    const shownCc = cc.filter((a) => cardText.includes(a));
    const notShownTo = to.length - shownTo.length;
    const notShownCc = cc.length - shownCc.length;
    // These addresses are too many for the card's budget: some are left to View full, and counted.
    expect(notShownTo + notShownCc).toBeGreaterThan(0);
    expect(shownTo).toEqual(to.slice(0, shownTo.length));
    expect(cardText).toContain('*To (45):*');
    if (notShownTo > 0) {
      expect(cardText).toContain(`*and ${notShownTo} more not shown here*`);
      expect(cardText).toContain(`${notShownTo} of 45 To`);
    }
    if (notShownCc > 0) expect(cardText).toContain(`${notShownCc} of 5 Cc`);
    expect(cardText).toContain('*Not shown on this card:*');
    expect(JSON.stringify(card!.message.blocks)).toContain('"action_id":"approval_view_full"');

    // Invisible characters are shown and warned about.
    expect(cardText).toContain('invoice.[U+202E]fdp.exe[U+200B] — thanks');
    expect(cardText).toContain('this action contains 2 invisible or direction-changing characters, shown here as [U+202E], [U+200B]');

    const full = decodeEntities((await readViewFull(h, card!)).join('\n'));
    for (const address of [...to, ...cc]) expect(full).toContain(address);
    expect(full).toContain('*To (45):*');
    expect(full).toContain('*Cc (5):*');

    await h.click(card!, 'approve');
    const [mail] = await h.smtp.waitForMail(1);
    expect([...mail!.envelopeTo].sort()).toEqual([...to, ...cc].map((a) => a.toLowerCase()).sort());
  });

  it('finding 3: with the largest input the schema allows, everything that will be sent is on the card or in View full (and Slack accepts both)', async () => {
    h = await startHarness();
    const domain = `${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(61)}.test`;
    const addresses = Array.from({ length: 50 }, (_, i) => `${'a'.repeat(60)}${String(i).padStart(4, '0')}@${domain}`);
    expect(addresses.every((a) => a.length === 253)).toBe(true);
    const subject = '<&>'.repeat(100);
    // Worst case for escaping and fences: five times longer once escaped, backtick runs, hidden characters.
    const unit = '<!channel>&&&&```````\u202E\u200B<https://evil.test|x>\n';
    const body = unit.repeat(Math.ceil(100_000 / unit.length)).slice(0, 100_000);
    h.claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: addresses.slice(0, 45), cc: addresses.slice(45), subject, body } }]), textReply('Sent.'));
    await h.command('run the biggest email');
    const [card] = await h.waitForCards(1, 20_000);
    expect(new Set([card!.message.text, ...blockTexts(card!.message.blocks)].flatMap(liveSequences))).toEqual(new Set([`<@${REQUESTER}>`]));
    const total = blockTexts(card!.message.blocks).reduce((n, t) => n + t.length, 0);
    expect(total).toBeLessThanOrEqual(13_000);

    const full = await readViewFull(h, card!);
    expect(full.every((s) => s.length > 0 && s.length <= 3000)).toBe(true);
    expect(full.flatMap(liveSequences)).toEqual([]);
    const seen = decodeEntities(full.join('\n'));
    for (const a of addresses) expect(seen).toContain(a);
    expect(seen).toContain(`*Subject:* ${subject}`);
    // The body comes back exactly, with its hidden characters as markers.
    expect(unfence(full)).toBe(body.replace(/\u202E/g, '[U+202E]').replace(/\u200B/g, '[U+200B]'));

    await h.click(card!, 'approve');
    const [mail] = await h.smtp.waitForMail(1, 20_000);
    expect(mail!.envelopeTo).toHaveLength(50);
  }, 90_000);
});
