/**
 * The cost phase: what a realistic run costs with and without prompt caching, from the usage the fake
 * Claude reports under the API's caching rules (test/helpers/fakeClaudeCache.ts), priced by the app's
 * own dated table and summed from its model_calls.
 *
 * A realistic run: 5 model calls (knowledge-base search, a competitor's web page through fetch_url, a
 * second search, send_email with one approval, the final answer), the real tool list and system prompt.
 * Three variants on the same app: caching off; caching on with the approval given at once; caching on
 * with the approval given 10 minutes later (the 5-minute cache has expired and is written again).
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { textReply, toolUseReply, type FakeReply } from '../../test/helpers/fakeClaude.js';
import { blockAction, slashCommand } from '../../test/helpers/slackRequests.js';
import { startAppThread } from './appThread.js';
import type { RunCost } from './appWorker.js';
import { APPROVER, REQUESTER, SIGNING_SECRET, startWorld, TEAM, type World } from './world.js';

export interface CostFigure {
  key: string;
  figure: string;
  value: string;
  goal: string;
  met: boolean | null;
  unit: string;
  data: Record<string, unknown>;
}

type Variant = 'off' | 'on' | 'expired';

const MARKER = /\[bench realistic k=(\d+)\]/;
const CHANNEL = 'CBENCHCOST';
let kSeq = 900_000;

/** Prose of a given length from a few sentences, so documents and pages have realistic sizes. */
function prose(sentences: string[], chars: number): string {
  let out = '';
  for (let i = 0; out.length < chars; i++) out += `${sentences[i % sentences.length]} `;
  return out.trim();
}

const KNOWLEDGE: Record<string, string> = {
  'pricing.md': `# Pricing\n\n${prose(['The Team plan costs 12 USD per seat per month, billed yearly.', 'Volume discounts start at 50 seats and reach 20% at 500 seats.', 'Sales may offer up to 10% more on a two-year commitment, with a manager approving anything above.', 'Prices for the Enterprise plan are quoted per deal and include SSO and audit logs.'], 3000)}`,
  'refunds.md': `# Refund policy\n\n${prose(['Annual plans can be refunded pro rata within 30 days of renewal.', 'Monthly plans are not refunded; they can be cancelled at any time.', 'Refunds above 5,000 USD need approval from finance.'], 2500)}`,
  'competitors.md': `# Competitive notes\n\n${prose(['Competitor X sells a Business tier at 15 USD per seat with SSO included.', 'Their trial is 14 days; ours is 30.', 'Customers switching from Competitor X most often cite our approval workflows and audit trail.'], 3000)}`,
  'onboarding.md': `# Onboarding\n\n${prose(['New customers get a kickoff call within three business days.', 'The customer success team owns onboarding until the first renewal.'], 2000)}`,
};

const PAGE = `<!doctype html><html><head><title>Competitor X pricing</title></head><body><h1>Plans and pricing</h1>${Array.from(
  { length: 12 },
  (_, i) => `<h2>Section ${i + 1}</h2><p>${prose(['The Business tier is 15 USD per user per month, billed annually, with single sign-on and priority support.', 'The Starter tier is 8 USD per user and has no SSO.', 'Volume pricing is available from 100 users; contact sales.', 'All plans include a 14-day free trial and unlimited workspaces.'], 800)}</p>`,
).join('')}</body></html>`;

/** The model's side of a realistic run, by how many assistant turns the conversation already has. */
function realisticReply(webUrl: string) {
  return (body: { messages?: Array<{ role?: string; content?: unknown }> }): FakeReply => {
    const first = JSON.stringify(body.messages?.[0]?.content ?? '');
    const k = Number(MARKER.exec(first)?.[1] ?? Number.NaN);
    if (!Number.isFinite(k)) return textReply('Nothing to do.');
    const turn = (body.messages ?? []).filter((m) => m.role === 'assistant').length;
    const think = (t: string) => prose([t, 'I should keep the summary short and factual, and only send what the requester asked for.'], 400);
    switch (turn) {
      case 0:
        return toolUseReply([{ name: 'search_knowledge_base', input: { query: 'pricing discount seats' } }], { thinking: think('First our own pricing from the knowledge base.'), text: 'Looking up our current pricing.' });
      case 1:
        return toolUseReply([{ name: 'fetch_url', input: { url: webUrl } }], { thinking: think('Now the competitor pricing page.'), text: "Reading Competitor X's pricing page." });
      case 2:
        return toolUseReply([{ name: 'search_knowledge_base', input: { query: 'competitor switching reasons' } }], { thinking: think('Our competitive notes would help the argument.') });
      case 3:
        return toolUseReply(
          [
            {
              name: 'send_email',
              input: {
                to: 'sarah@acme.com',
                subject: `Pricing comparison with Competitor X k=${k}`,
                body: prose(['Hi Sarah, here is the comparison you asked for.', 'Our Team plan is 12 USD per seat billed yearly; their Business tier is 15 USD with SSO.', 'Our volume discounts start at 50 seats, theirs at 100 users.', 'Our trial is 30 days, theirs 14.'], 700),
              },
            },
          ],
          { thinking: think('I have what I need; draft the email.'), text: 'I will email Sarah the comparison.' },
        );
      default:
        return textReply(`Emailed Sarah the pricing comparison: ours is 12 USD per seat, Competitor X charges 15 USD with SSO. Bench done k=${k}.`, { thinking: think('Sent; summarise.') });
    }
  };
}

type EnvFor = (world: World, dbPath: string, model: string, knowledgeDir: string) => Record<string, string>;

async function oneVariant(opts: { variant: Variant; model: string; runs: number; modelLatencyMs: number; webUrl: string; env: EnvFor; dir: string; knowledgeDir: string }): Promise<RunCost[]> {
  const world = await startWorld({ modelLatencyMs: opts.modelLatencyMs });
  world.claude.respond(realisticReply(opts.webUrl));
  const app = await startAppThread();
  try {
    const { port } = await app.start(opts.env(world, join(opts.dir, `cost-${opts.model}-${opts.variant}.db`), opts.model, opts.knowledgeDir), { promptCaching: opts.variant !== 'off', loopbackWeb: true });
    const baseUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < opts.runs; i++) {
      const k = ++kSeq;
      const text = `run compare our pricing with Competitor X and email Sarah a short summary [bench realistic k=${k}]`;
      const res = await slashCommand(baseUrl, SIGNING_SECRET, { text, userId: REQUESTER, userName: 'alice', channelId: CHANNEL, teamId: TEAM, responseUrl: world.slack.responseUrl({ channel: CHANNEL, userId: REQUESTER }) });
      if (res.status !== 200) throw new Error(`/agent run answered ${res.status}`);
      await world.waitFor(`the card of realistic run k=${k}`, () => world.cards.has(k), 60_000);
      // The approver comes back after the 5-minute cache has expired.
      if (opts.variant === 'expired') world.claude.advanceClock(10 * 60_000);
      const card = world.cards.get(k)!;
      const click = await blockAction(baseUrl, SIGNING_SECRET, {
        actionId: 'approval_approve',
        value: card.actionId,
        userId: APPROVER,
        userName: 'bob',
        teamId: TEAM,
        channelId: card.channel,
        messageTs: card.ts,
        ...(card.threadTs ? { threadTs: card.threadTs } : {}),
        responseUrl: world.slack.responseUrl({ channel: card.channel, userId: APPROVER, messageTs: card.ts }),
        message: card.message,
      });
      if (click.status !== 200) throw new Error(`Approve answered ${click.status}`);
      await world.waitFor(`realistic run k=${k} to finish`, () => world.done.has(k), 60_000);
    }
    const rejected = world.claude.requests.filter((r) => r.rejected);
    if (rejected.length > 0) throw new Error(`the fake Claude refused ${rejected.length} request(s): ${rejected[0]!.rejected}`);
    const costs = await app.call<RunCost[]>({ cmd: 'runCosts', teamId: TEAM }, 10_000);
    if (costs.length !== opts.runs || costs.some((c) => c.calls !== 5)) throw new Error(`expected ${opts.runs} runs of 5 model calls, got ${JSON.stringify(costs.map((c) => c.calls))}`);
    return costs;
  } finally {
    await app.close();
    await world.close();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const usd = (n: number) => `$${n.toFixed(4)}`;

export async function costPhase(opts: { quick: boolean; modelLatencyMs: number; dir: string; env: EnvFor; log(msg: string): void }): Promise<CostFigure[]> {
  const knowledgeDir = join(opts.dir, 'knowledge-cost');
  mkdirSync(knowledgeDir, { recursive: true });
  for (const [name, body] of Object.entries(KNOWLEDGE)) writeFileSync(join(knowledgeDir, name), body);
  const web: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', () => resolve()));
  const webUrl = `http://www.competitor-x.example:${(web.address() as { port: number }).port}/pricing`;
  const runs = opts.quick ? 1 : 3;
  const models = opts.quick ? ['claude-sonnet-5-5'] : ['claude-sonnet-5-5', 'claude-opus-5-5', 'claude-haiku-5-5'];
  const figures: CostFigure[] = [];
  try {
    for (const model of models) {
      const by: Partial<Record<Variant, RunCost[]>> = {};
      for (const variant of ['off', 'on', 'expired'] as const) {
        opts.log(`cost: ${model}, caching ${variant === 'off' ? 'off' : variant === 'on' ? 'on' : 'on, approval after 10 min'} (${runs} run${runs === 1 ? '' : 's'})...`);
        by[variant] = await oneVariant({ ...opts, variant, model, runs, webUrl, knowledgeDir });
      }
      const per = (v: Variant) => mean(by[v]!.map((c) => c.spendUsd));
      const off = per('off');
      const on = per('on');
      const expired = per('expired');
      const first = by.on![0]!;
      const saved = 1 - on / off;
      figures.push({
        key: `cost_per_run_${model.replace(/[^a-z0-9]+/g, '_')}`,
        figure: `cost per realistic run, ${model} (5 calls: KB + web + approval; mean of ${runs})`,
        value: `${usd(off)} without caching -> ${usd(on)} with (${Math.round(saved * 100)}% less); ${usd(expired)} when the approval comes after the cache expired`,
        goal: 'report',
        met: null,
        unit: 'USD',
        data: {
          model,
          runs,
          withoutCachingUsd: off,
          withCachingUsd: on,
          approvalAfterTtlUsd: expired,
          savedFraction: Math.round(saved * 1000) / 1000,
          firstCachedRun: first,
          tokens: Object.fromEntries(Object.entries(by).map(([v, cs]) => [v, cs![cs!.length - 1]])),
        },
      });
    }
  } finally {
    await new Promise<void>((resolve) => web.close(() => resolve()));
  }
  return figures;
}
