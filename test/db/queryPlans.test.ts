import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';
import { startHarness, type Harness } from '../helpers/testApp.js';
import { watchStatements } from '../helpers/sqliteStatements.js';

// Every statement a run's life sends to SQLite, checked with EXPLAIN QUERY PLAN: none may walk a whole
// table that grows with use, or look rows of one run up through an index on a status column alone (that
// walks every run's rows with that status). Both happened: with 10,000 runs waiting for approval, one
// start-up query took 5 s, and every card render read the whole activity log.

// Tables that grow with runs, messages and decisions.
const GROWING = ['runs', 'actions', 'activity', 'messages', 'model_calls', 'slack_outbox', 'action_policies', 'action_approvals', 'run_replies'];
// Whole-table statements that are meant to be: each names why.
const ALLOWED: Array<{ match: RegExp; why: string }> = [
  { match: /^update "runs" set "lease_owner" = \?, "lease_expires_at" = \?, "slot_held" = \? where \("lease_expires_at" is not null or "slot_held" != \?\)$/, why: 'start-up of the one SQLite instance: every lease of the previous process is voided, once' },
  { match: /^select \* from "runs"$/, why: "the test harness's own polling (waitForRun), not the app" },
];

const sources = new Set<string>();

describe.skipIf(TEST_ENGINE !== 'sqlite')('query plans (SQLite)', () => {
  let h: Harness;
  let unwatch: () => void;
  beforeEach(async () => {
    unwatch = watchStatements((source) => sources.add(source));
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
    unwatch();
  });

  it('a run with an approval, a rejection, a restart and the status views uses an index for every growing table', async () => {
    h.claude.enqueue(
      toolUseReply([{ name: 'search_knowledge_base', input: { query: 'Q2 revenue' } }]),
      toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Q2', body: 'Revenue grew 12%.' } }]),
      textReply('Emailed Sarah.'),
      toolUseReply([{ name: 'send_email', input: { to: 'bob@acme.com', subject: 'Hi', body: 'Hello.' } }]),
    );
    await h.command('run email Sarah the Q2 numbers');
    const [card] = await h.waitForCards(1);
    await h.restart();
    await h.click(card!, 'approve');
    await h.smtp.waitForMail(1);
    await h.waitForRun((r) => r.status === 'completed');
    await h.command('run email Bob');
    const cards = await h.waitForCards(2);
    const second = await h.waitForRun((r) => r.status === 'awaiting_approval');
    await h.click(cards[1]!, 'reject');
    await h.submitReject(cards[1]!.actionId, 'not now');
    await h.waitForRun((r) => r.id === second.id && r.status === 'cancelled');
    await h.command('status');
    await h.delivered();

    const probe = new SQLite(h.dbPath, { readonly: true });
    const offenders: string[] = [];
    try {
      for (const source of sources) {
        if (!/^\s*(select|update|delete|insert|with)\b/i.test(source)) continue;
        if (ALLOWED.some((a) => a.match.test(source))) continue;
        let plan: Array<{ detail: string }>;
        try {
          plan = probe.prepare(`explain query plan ${source}`).all(...new Array(countParams(source)).fill(null)) as Array<{ detail: string }>;
        } catch {
          continue; // e.g. a statement on a table this database no longer has (a migration's)
        }
        for (const { detail } of plan) {
          const scan = /^SCAN (\w+)(?! USING (?:COVERING )?INDEX)/.exec(detail);
          const statusOnly = /^SEARCH (\w+) USING INDEX \w+ \(status=\?\)$/.exec(detail);
          // A status-only index is fine for "every action left dispatching", not for one run's rows.
          const runScoped = (t: string) => new RegExp(`"${t}"\\."run_id" = |^select [^(]* from "${t}" where .*"run_id" = \\?`).test(source);
          const table = scan?.[1] ?? (statusOnly && runScoped(statusOnly[1]!) ? statusOnly[1] : undefined);
          if (table && GROWING.includes(table)) offenders.push(`${detail}\n    in: ${source.slice(0, 300)}`);
        }
      }
    } finally {
      probe.close();
    }
    expect(sources.size).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });
});

function countParams(sql: string): number {
  // Kysely's SQLite statements use positional `?` only; none appears inside a string literal here.
  return (sql.replace(/'[^']*'/g, '').match(/\?/g) ?? []).length;
}
