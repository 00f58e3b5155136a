import { describe, expect, it } from 'vitest';
import type { CardView } from '../../src/agent/surface.js';
import type { Action, Run } from '../../src/db/schema.js';
import { renderCard } from '../../src/slack/blocks/card.js';
import { viewFullModal } from '../../src/slack/blocks/modals.js';
import { createUpdateDealStageTool } from '../../src/tools/crm.js';
import { createScheduleRunTool } from '../../src/tools/schedules.js';
import { createSendEmailTool, sendEmailInputSchema } from '../../src/tools/sendEmail.js';
import { createSendWhatsappTool, sendWhatsappInputSchema } from '../../src/tools/sendWhatsapp.js';
import type { CallDescription } from '../../src/tools/types.js';
import { createMcpTool } from '../../src/tools/mcp/mcpTool.js';
import { blockTexts, decodeEntities, liveSequences, sectionTexts, unfence } from '../helpers/slackText.js';

/**
 * "A card never hides what will happen": for each tool that reaches the outside world, the largest input
 * its schema accepts is described, rendered as a card and as every View full page, and everything that
 * will be sent must be readable there, within Slack's limits.
 */

const run = { id: 'r-abc123', task: 'the task', requester_id: 'U_REQ', spend_usd: 0.01, channel_id: 'C_TASKS' } as Run;

function cardOf(tool: string, description: CallDescription): CardView {
  const action = { id: 'a-1', tool } as Action;
  return { run, action, description, reasoning: 'r'.repeat(5000), state: { kind: 'pending' }, notices: ['n'.repeat(1000), 'm'.repeat(1000)], turnCardCount: 2, rememberable: false };
}

/** Everything the approver can read: the card, and every page of View full. */
function visible(tool: string, description: CallDescription): { card: string[]; pages: string[][] } {
  const card = renderCard(cardOf(tool, description));
  const cardTexts = [card.text, ...blockTexts(card.blocks)];
  expect(card.blocks.length).toBeLessThanOrEqual(50);
  expect(blockTexts(card.blocks).reduce((n, t) => n + t.length, 0)).toBeLessThanOrEqual(13_000);
  expect(cardTexts.flatMap(liveSequences)).toEqual(['<@U_REQ>']);
  const pages: string[][] = [];
  for (let page = 0; ; page++) {
    const view = viewFullModal({ description, runId: run.id, actionId: 'a-1', channelId: 'C_TASKS', page }) as { blocks: unknown[] };
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    const sections = sectionTexts(view.blocks);
    for (const s of sections) expect(s.length).toBeGreaterThan(0);
    for (const s of sections) expect(s.length).toBeLessThanOrEqual(3000);
    expect(blockTexts(view.blocks).flatMap(liveSequences)).toEqual([]);
    pages.push(sections);
    if (!JSON.stringify(view.blocks).includes('view_full_page_next')) break;
    expect(page).toBeLessThan(60);
  }
  // Anything the card leaves out makes it say so and offer View full.
  const cardJoined = cardTexts.join('\n');
  if (cardJoined.includes('Not shown on this card')) expect(JSON.stringify(card.blocks)).toContain('approval_view_full');
  return { card: cardTexts, pages };
}

const worst = (n: number) => {
  const unit = '<!here>&`\u202E\u200B```<https://evil.test|https://acme.test>\n';
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
};

describe('the largest inputs the schemas allow are fully visible to the approver', () => {
  it('send_whatsapp: the number and the whole 4,096-character text', () => {
    const input = sendWhatsappInputSchema.parse({ to: '+123456789012345', body: worst(4096) });
    const d = createSendWhatsappTool({} as never).describe(input, {});
    const { card, pages } = visible('send_whatsapp', d);
    expect(decodeEntities(card.join('\n'))).toContain('+123456789012345');
    expect(unfence(pages.flat())).toBe(input.body.replace(/\u202E/g, '[U+202E]').replace(/\u200B/g, '[U+200B]'));
  });

  it('send_email: 50 addresses of 253 characters, a 300-character subject and a 100,000-character body', () => {
    const domain = `${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(61)}.test`;
    const addresses = Array.from({ length: 50 }, (_, i) => `${'a'.repeat(60)}${String(i).padStart(4, '0')}@${domain}`);
    const input = sendEmailInputSchema.parse({ to: addresses.slice(0, 40), cc: addresses.slice(40), subject: '<&>'.repeat(100), body: worst(100_000) });
    expect(sendEmailInputSchema.safeParse({ ...input, to: [`${'a'.repeat(61)}0000@${domain}`] }).success).toBe(false);
    const d = createSendEmailTool({ mailer: {} as never, lookupSender: async () => undefined }).describe(input, { from: { name: 'A <b>', address: 'a@acme.test' }, fromSource: 'requester' });
    const { card, pages } = visible('send_email', d);
    const seen = decodeEntities([...card, ...pages.flat()].join('\n'));
    for (const a of addresses) expect(seen).toContain(a);
    expect(seen).toContain(`*Subject:* ${input.subject}`);
    expect(seen).toContain('*Sent as:* A <b> <a@acme.test>');
    expect(unfence(pages.flat())).toBe(input.body.replace(/\u202E/g, '[U+202E]').replace(/\u200B/g, '[U+200B]'));
    const notShown = /Not shown on this card:\* ([^.]*)\./.exec(decodeEntities(card.join('\n')))?.[1] ?? '';
    expect(notShown).toMatch(/^\d+ of 40 To; \d+ of 10 Cc; the last \d+ of 300 characters of Subject; the last [\d,]+ characters of Email body$/);
  });

  it('update_deal_stage: the deal id and the exact stage id that will be sent', () => {
    const d = createUpdateDealStageTool({} as never).describe(
      { deal_id: '9'.repeat(20), stage: 'x'.repeat(100) },
      { dealName: `<!channel>${'n'.repeat(500)}`, pipelineId: 'default', currentStageId: 'a'.repeat(100), currentStageLabel: 'Qualified', newStageId: `s<&>${'z'.repeat(96)}`, newStageLabel: 'Won\u202E' },
    );
    const { card } = visible('update_deal_stage', d);
    const shown = decodeEntities(card.join('\n'));
    expect(shown).toContain('9'.repeat(20));
    expect(shown).toContain(`(id s<&>${'z'.repeat(96)})`);
    expect(shown).toContain('Won[U+202E]');
  });

  it('schedule_run: the cron, the time zone and the whole 2,000-character task', () => {
    const tool = createScheduleRunTool({} as never);
    const input = { cron: `${'1,'.repeat(45)}1 9 * * 1`, task: worst(2000), timezone: 'America/Argentina/ComodRivadavia' };
    const d = tool.describe(input, { timezone: input.timezone, description: 'every Monday', next: ['a', 'b'] });
    const { card, pages } = visible('schedule_run', d);
    const seen = decodeEntities([...card, ...pages.flat()].join('\n'));
    expect(seen).toContain(input.cron);
    expect(seen).toContain(input.timezone);
    expect(unfence(pages.flat())).toBe(input.task.replace(/\u202E/g, '[U+202E]').replace(/\u200B/g, '[U+200B]'));
  });

  it('an MCP tool: server, tool, a 10,000-character description and 30,000 characters of arguments', async () => {
    const description = worst(10_000);
    const tool = createMcpTool('tickets', { name: 'close_ticket', description, inputSchema: { type: 'object', properties: { note: { type: 'string' } } } }, { callTool: async () => ({ content: [] }) });
    const input = { note: worst(30_000), ids: [1, 2, 3] };
    const prepared = await tool.prepare!(input, { run: { id: run.id, teamId: 'T', channelId: 'C_TASKS', threadTs: null, requesterId: 'U_REQ' } });
    const d = tool.describe(input, prepared);
    const { card, pages } = visible(tool.name, d);
    const seen = decodeEntities([...card, ...pages.flat()].join('\n'));
    expect(seen).toContain('*MCP server:* tickets');
    expect(seen).toContain('*Tool:* close_ticket');
    // The description is split over sections (maybe mid-word): compared without whitespace.
    const pagesText = decodeEntities(pages.flat().join('')).replace(/\s+/g, '');
    expect(pagesText).toContain(description.replace(/\u202E/g, '[U+202E]').replace(/\u200B/g, '[U+200B]').replace(/\s+/g, ''));
    expect(unfence(pages.flat())).toContain(JSON.stringify(input, null, 2).replace(/\u202E/g, '[U+202E]').replace(/\u200B/g, '[U+200B]'));
  });
});
