import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startBalancer, startBalancerThread, type Balancer } from '../../scripts/bench/balancer.js';
import { configurations } from '../../scripts/bench/instances.js';
import { parseOptions, PHASES } from '../../scripts/bench/options.js';

describe('bench options for the "several instances" section', () => {
  it('is not run unless asked: the default and --quick (what CI runs) leave it out', () => {
    expect(parseOptions([]).instances).toBe(0);
    expect(parseOptions(['--quick']).instances).toBe(0);
    expect([...parseOptions(['--quick']).phases]).toEqual([...PHASES]);
  });

  it('--instances N runs it alone, unless --phases names other measurements too', () => {
    const alone = parseOptions(['--instances', '3']);
    expect(alone.instances).toBe(3);
    expect(alone.phases.size).toBe(0);
    const withBurst = parseOptions(['--instances=2', '--phases', 'burst']);
    expect(withBurst.instances).toBe(2);
    expect([...withBurst.phases]).toEqual(['burst']);
    // More time for the extra configurations, unless the caller set the budget.
    expect(alone.timeoutS).toBeGreaterThan(parseOptions([]).timeoutS);
    expect(parseOptions(['--instances', '3', '--timeout-s', '100']).timeoutS).toBe(100);
  });

  it('--database-url alone means 1 and 2 instances on that server; a URL that is not postgres:// is refused', () => {
    const o = parseOptions(['--database-url', 'postgres://bench:secret@db.internal:5432/agent']);
    expect(o.databaseUrl).toBe('postgres://bench:secret@db.internal:5432/agent');
    expect(o.instances).toBe(2);
    expect(configurations(o.instances, true)).toEqual([
      { engine: 'sqlite', instances: 1 },
      { engine: 'postgres', instances: 1 },
      { engine: 'postgres', instances: 2 },
    ]);
    expect(() => parseOptions(['--database-url', 'mysql://x@h/db'])).toThrow(/postgres:\/\//);
    expect(() => parseOptions(['--instances', '0'])).toThrow(/--instances/);
    expect(() => parseOptions(['--instances', '9'])).toThrow(/at most 8/);
  });

  it('without a PostgreSQL server only the SQLite configuration runs', () => {
    expect(configurations(4, false)).toEqual([{ engine: 'sqlite', instances: 1 }]);
  });
});

describe('the bench load balancer', () => {
  const servers: Server[] = [];
  let lb: Balancer | undefined;
  afterEach(async () => {
    await lb?.close();
    lb = undefined;
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  /** An upstream that answers with its name and echoes the raw body and one signature header. */
  async function upstream(name: string): Promise<string> {
    const s = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': name });
        res.end(JSON.stringify({ name, body, signature: req.headers['x-slack-signature'], path: req.url }));
      });
    });
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  }

  it('sends each request to the next instance in turn, body and headers unchanged, and the answer back unchanged', async () => {
    lb = await startBalancer([await upstream('a'), await upstream('b')]);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${lb.url}/slack/events?x=${i}`, { method: 'POST', headers: { 'x-slack-signature': `v0=sig${i}` }, body: `text=run+task+${i}` });
      answers.push({ status: res.status, upstream: res.headers.get('x-upstream'), json: (await res.json()) as Record<string, unknown> });
    }
    expect(answers.map((a) => a.upstream)).toEqual(['a', 'b', 'a', 'b']);
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(answers[3]!.json).toEqual({ name: 'b', body: 'text=run+task+3', signature: 'v0=sig3', path: '/slack/events?x=3' });
    expect(lb.counts).toEqual([2, 2]);
  });

  it('answers 502 when the instance whose turn it is does not answer, and counts it', async () => {
    const dead = await upstream('dead');
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    lb = await startBalancer([dead]);
    const res = await fetch(`${lb.url}/healthz`);
    expect(res.status).toBe(502);
    expect(lb.errors).toBe(1);
    expect(lb.errorCodes).toEqual({ ECONNREFUSED: 1 });
  });

  it('runs in a thread of its own just the same, and reports what it forwarded', async () => {
    const thread = await startBalancerThread([await upstream('a'), await upstream('b'), await upstream('c')]);
    try {
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push((await fetch(`${thread.url}/slack/events`, { method: 'POST', body: 'x' })).headers.get('x-upstream'));
      expect(seen).toEqual(['a', 'b', 'c', 'a']);
      expect(await thread.stats()).toEqual({ counts: [2, 1, 1], errors: 0, errorCodes: {} });
    } finally {
      await thread.close();
    }
  });
});
