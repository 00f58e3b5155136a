import { describe, expect, it } from 'vitest';
import type { HomeData, HomeItem } from '../../src/agent/home.js';
import type { TrustSuggestion } from '../../src/agent/trustSuggestions.js';
import type { Action, Run } from '../../src/db/schema.js';
import { HOME_LIMITS, renderHome } from '../../src/slack/blocks/home.js';

const HOSTILE = '<!channel> ping <https://evil.example|your bank> @here *now* ' + 'x'.repeat(5000);

function item(n: number, tool = n % 2 ? 'send_email' : 'send_whatsapp'): HomeItem {
  const run = { id: `run${n}`, team_id: 'T1', channel_id: 'C1', requester_id: 'U1', task: HOSTILE, status: 'awaiting_approval', spend_usd: 0.0123, created_at: '2026-12-01T07:00:00.000Z' } as Run;
  const action = { id: `act${n}`, run_id: run.id, tool, status: 'pending', created_at: `2026-12-01T07:${String(n % 60).padStart(2, '0')}:00.000Z`, card_channel: 'C1', card_ts: `1.${n}` } as Action;
  return { action, run, summary: `${HOSTILE} ${n}`, editable: true };
}

function data(n: number): HomeData {
  const waiting = Array.from({ length: n }, (_, i) => item(i + 1));
  return { teamId: 'T1', userId: 'U2', note: { text: 'Approved 2 of 3.', at: '2026-12-01T07:59:00.000Z' }, waiting, runs: waiting.slice(0, 10).map((w) => w.run), runsTotal: 42, queue: { pending: n, warnAt: 20, stopAt: 50 }, suggestions: Array.from({ length: 20 }, (_, i) => ({ actionType: `tool_${i}`, label: `tool_${i}`, approved: 20 + i, basis: `b${i}` }) satisfies TrustSuggestion) };
}

type Block = { type: string; block_id?: string; text?: { text: string }; elements?: Array<{ type: string; text?: { text: string }; options?: Array<{ text: { text: string }; value: string }> }> };

describe('the Home view', () => {
  it('stays within Slack\'s limits with a long queue: the oldest first, then "and K more"', () => {
    const view = renderHome(data(150), new Map(), new Date('2026-12-01T08:00:00.000Z'));
    const blocks = view.blocks as Block[];
    expect(blocks.length).toBeLessThanOrEqual(100);
    const text = JSON.stringify(blocks);
    expect(text).toContain(`and ${150 - HOME_LIMITS.waitingShown} more`);
    expect(text).toContain('Approved 2 of 3.');
    expect(text).toContain('*150* actions waiting in this workspace — warning at 20, refused at 50: :no_entry: new actions are refused');
    expect(text).toContain('and 32 older');
    // Trust suggestions for admins take what room is left, never past the limit.
    expect(text).toContain('trust_suggestion:tool_0');
    const ids = blocks.map((b) => b.block_id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
    for (const b of blocks) {
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(b.type === 'header' ? 150 : 3000);
      for (const e of b.elements ?? []) {
        if (e.type === 'checkboxes') {
          expect(e.options!.length).toBeLessThanOrEqual(10);
          for (const o of e.options!) expect(o.text.text.length).toBeLessThanOrEqual(75);
        }
      }
    }
    // Two batch groups (one per kind), the oldest first.
    expect(blocks.filter((b) => b.block_id?.startsWith('home_batch:')).map((b) => b.block_id)).toEqual(['home_batch:send_email', 'home_batch:send_whatsapp']);
  });

  it('shows untrusted text (tasks, summaries) escaped: no broadcast, no disguised link', () => {
    // Slack parses mrkdwn text objects only (plain_text, e.g. a checkbox's label, is shown as written).
    const mrkdwnTexts: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o['type'] === 'mrkdwn' && typeof o['text'] === 'string') mrkdwnTexts.push(o['text']);
        Object.values(o).forEach(walk);
      }
    };
    walk(renderHome(data(3), new Map(), new Date('2026-12-01T08:00:00.000Z')).blocks);
    const text = mrkdwnTexts.join('\n');
    expect(mrkdwnTexts.length).toBeGreaterThan(3);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<https://evil.example');
    expect(text).toContain('&lt;!channel&gt;');
  });

  it('drops a stale note and says when nothing waits', () => {
    const view = renderHome({ ...data(0), note: { text: 'old news', at: '2026-12-01T06:00:00.000Z' }, queue: undefined }, new Map(), new Date('2026-12-01T08:00:00.000Z'));
    const text = JSON.stringify(view.blocks);
    expect(text).not.toContain('old news');
    expect(text).toContain('Nothing is waiting for your decision.');
    expect(text).not.toContain('Approval queue');
  });
});
