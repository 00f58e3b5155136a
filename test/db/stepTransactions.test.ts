import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply, toolUseReply } from '../helpers/fakeClaude.js';
import { TEST_ENGINE } from '../helpers/testDatabase.js';
import { watchStatements } from '../helpers/sqliteStatements.js';
import { startHarness, type Harness } from '../helpers/testApp.js';

// How a run's turn is written: the model call's record (usage, message, proposed calls) in one
// transaction; each call's claim in its own, committed before the tool runs (the dispatcher's exactly-once
// guarantee); and the result that settles the turn in one transaction with the tool results it hands back
// to the model. Counted on the statements SQLite runs (the same code runs on PostgreSQL).

interface Stmt {
  sql: string;
  /** Model requests the fake Claude had received when the statement ran. */
  calls: number;
}

const log: Stmt[] = [];

/** The transactions that wrote a run's conversation or its calls, in order, each as its statements. */
function runTransactions(stmts: Stmt[]): string[][] {
  const out: string[][] = [];
  let open: string[] | undefined;
  for (const s of stmts) {
    if (/^begin/i.test(s.sql)) open = [];
    else if (/^commit/i.test(s.sql)) {
      if (open?.some((q) => /^(insert into|update) "(run_messages|actions|model_calls)"/.test(q))) out.push(open);
      open = undefined;
    } else open?.push(s.sql);
  }
  return out;
}

describe.skipIf(TEST_ENGINE !== 'sqlite')('transactions of a step (SQLite)', () => {
  let h: Harness;
  let unwatch: () => void;
  beforeEach(async () => {
    log.length = 0;
    unwatch = watchStatements((source) => log.push({ sql: source.replace(/\s+/g, ' ').trim(), calls: (h as Harness | undefined)?.claude.requests.length ?? 0 }));
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
    unwatch();
  });

  it('a turn of calls the policy runs: the record, one claim per call, and one commit for the results and what goes back to the model', async () => {
    h.claude.enqueue(
      toolUseReply([
        { name: 'search_knowledge_base', input: { query: 'Q2 revenue' } },
        { name: 'search_knowledge_base', input: { query: 'Q2 costs' } },
      ]),
      textReply('Revenue grew 12%.'),
    );
    await h.command('run what were the Q2 numbers?');
    await h.waitForRun((r) => r.status === 'completed');
    await h.delivered();
    expect(h.claude.requests).toHaveLength(2);

    // Between the first model request and the second: the first turn's answer and its tool step.
    const turn = runTransactions(log.filter((s) => s.calls === 1));
    const kinds = turn.map((t) => {
      if (t.some((q) => q.startsWith('insert into "model_calls"'))) return 'record';
      if (t.some((q) => /^update "actions" set "status" = \?, "dispatch_started_at"/.test(q))) return 'claim';
      if (t.some((q) => /^update "actions" set "status" = \?, "result_json"/.test(q))) return t.some((q) => q.startsWith('insert into "run_messages"')) ? 'result+tool_results' : 'result';
      return t.join(' | ');
    });
    expect(kinds).toEqual(['record', 'claim', 'result', 'claim', 'result+tool_results']);

    // The tool results are written after both results, in the transaction of the last one.
    const last = turn.at(-1)!;
    expect(last.findIndex((q) => q.startsWith('insert into "run_messages"'))).toBeGreaterThan(last.findIndex((q) => q.startsWith('update "actions" set "status" = ?, "result_json"')));
    const stored = await h.app.db.selectFrom('run_messages').select(['seq', 'role', 'content_json']).where('run_id', '=', (await h.waitForRun(() => true)).id).orderBy('seq').execute();
    expect(stored.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect((JSON.parse(stored[2]!.content_json) as Array<{ type: string }>).map((b) => b.type)).toEqual(['tool_result', 'tool_result']);
  });
});
