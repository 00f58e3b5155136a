/**
 * Runs the real app (src/main.ts startApp: Bolt HTTP receiver, SQLite file, SMTP mailer) in a worker
 * thread of the benchmark process, so the fakes and the load generator on the main thread do not share
 * the app's event loop. Answers small RPCs from scripts/bench/appThread.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import Anthropic from '@anthropic-ai/sdk';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startApp, type RunningApp } from '../../src/main.js';
import { seedSuspendedRuns, snapshotSuspendedRun, type RunTemplate } from './seed.js';
import { createSafeFetcher } from '../../src/connectors/safeFetch.js';
import { createSmtpMailer, type Mailer } from '../../src/connectors/smtp.js';

/** What a bench phase may change about the app it starts (the cost phase). */
export interface StartOptions {
  /** false: requests carry no cache_control breakpoints. */
  promptCaching?: boolean;
  /** fetch_url may reach the bench's loopback "web" server (whatever host name the model asks for). */
  loopbackWeb?: boolean;
}

export interface RunCost {
  id: string;
  spendUsd: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export type WorkerRequest =
  | { cmd: 'start'; env: Record<string, string>; options?: StartOptions }
  | { cmd: 'stop' }
  | { cmd: 'snapshot'; teamId: string }
  | { cmd: 'seed'; template: RunTemplate; count: number; teamId: string; channel: string }
  | { cmd: 'counts'; teamId: string | string[] }
  | { cmd: 'drained' }
  | { cmd: 'runCosts'; teamId: string }
  | { cmd: 'bare'; baseUrl: string; apiKey: string; bodies: unknown[]; repeats: number }
  | { cmd: 'smtpExchange'; smtpUrl: string; k: number }
  | { cmd: 'profileStart' }
  | { cmd: 'profileStop'; file: string };

const port = parentPort;
if (!port) throw new Error('appWorker must run as a worker thread');

let app: RunningApp | undefined;
let session: Session | undefined;

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'start': {
      if (app) throw new Error('app already started');
      app = await startApp(loadConfig(req.env), {
        logger: pino({ level: 'silent' }),
        slackRetryConfig: { retries: 0 },
        anthropicMaxRetries: 0,
        botIdentity: { botId: 'B_BOT', botUserId: 'U_BOT' },
        ...(req.options?.promptCaching === false ? { promptCaching: false } : {}),
        ...(req.options?.loopbackWeb ? { fetcher: createSafeFetcher({ resolve: async () => ['127.0.0.1'], addressAllowed: () => true }) } : {}),
      });
      return { port: app.port };
    }
    case 'stop': {
      exchangeMailer?.close();
      exchangeMailer = undefined;
      const running = app;
      app = undefined;
      await running?.stop();
      return null;
    }
    case 'snapshot':
      return snapshotSuspendedRun(mustApp().db, req.teamId);
    case 'seed':
      await seedSuspendedRuns(mustApp().db, req.template, { count: req.count, teamFor: () => req.teamId, channelFor: () => req.channel });
      return null;
    case 'counts': {
      const rows = await mustApp()
        .db.selectFrom('runs')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('team_id', 'in', teams(req.teamId))
        .groupBy('status')
        .execute();
      const errors = await mustApp()
        .db.selectFrom('runs')
        .select(['error_code', (eb) => eb.fn.countAll<number>().as('n')])
        .where('team_id', 'in', teams(req.teamId))
        .where('error_code', 'is not', null)
        .groupBy('error_code')
        .execute();
      return {
        byStatus: Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])),
        errors: Object.fromEntries(errors.map((r) => [String(r.error_code), Number(r.n)])),
      };
    }
    case 'drained':
      // Everything the app queued for Slack has been delivered (or given up on as undeliverable).
      await mustApp().slackDrained();
      return null;
    case 'runCosts': {
      const rows = await mustApp()
        .db.selectFrom('model_calls')
        .innerJoin('runs', 'runs.id', 'model_calls.run_id')
        .select((eb) => [
          'runs.id as id',
          'runs.created_at as created',
          eb.fn.sum<number>('model_calls.cost_usd').as('spend'),
          eb.fn.countAll<number>().as('calls'),
          eb.fn.sum<number>('model_calls.input_tokens').as('input'),
          eb.fn.sum<number>('model_calls.output_tokens').as('output'),
          eb.fn.sum<number>('model_calls.cache_read_tokens').as('read'),
          eb(eb.fn.sum<number>('model_calls.cache_write_5m_tokens'), '+', eb.fn.sum<number>('model_calls.cache_write_1h_tokens')).as('write'),
        ])
        .where('runs.team_id', '=', req.teamId)
        .groupBy(['runs.id', 'runs.created_at'])
        .orderBy('runs.created_at')
        .execute();
      return rows.map(
        (r): RunCost => ({
          id: r.id,
          spendUsd: Number(r.spend),
          calls: Number(r.calls),
          inputTokens: Number(r.input),
          outputTokens: Number(r.output),
          cacheReadTokens: Number(r.read),
          cacheWriteTokens: Number(r.write),
        }),
      );
    }
    case 'bare': {
      // The same requests the app sent, through the real SDK client, one after the other: the model
      // latency floor a run cannot go below.
      const client = new Anthropic({ apiKey: req.apiKey, baseURL: req.baseUrl, maxRetries: 0, timeout: 30_000 });
      const walls: number[] = [];
      for (let r = 0; r < req.repeats; r++) {
        const t0 = performance.now();
        for (const body of req.bodies) await client.messages.create(body as Anthropic.MessageCreateParamsNonStreaming);
        walls.push(performance.now() - t0);
      }
      return walls;
    }
    case 'smtpExchange': {
      // The connector's own exchange, as the app makes it: the app's SMTP connector (pooled, kept warm
      // between calls like the app's), one mail, from this thread. Returns when send() was called, as a
      // wall-clock time, so the main thread can compare it with when the server received the mail.
      exchangeMailer ??= createSmtpMailer(req.smtpUrl);
      const startedAt = performance.timeOrigin + performance.now();
      const t0 = performance.now();
      await exchangeMailer.send({
        from: { address: 'alice@acme.com' },
        to: ['sarah@acme.com'],
        subject: `Q2 summary k=${req.k}`,
        text: `Hi Sarah,\n\nRevenue grew 12% in Q2 (benchmark mail k=${req.k}).\n\nAlice`,
        messageId: `<bench-exchange-${req.k}@bench.local>`,
      });
      return { startedAt, sendMs: performance.now() - t0 };
    }
    case 'profileStart':
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      return null;
    case 'profileStop': {
      if (!session) return null;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(req.file, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
      return null;
    }
  }
}

let exchangeMailer: Mailer | undefined;

function teams(t: string | string[]): string[] {
  return Array.isArray(t) ? t : [t];
}

function mustApp(): RunningApp {
  if (!app) throw new Error('app not started');
  return app;
}

port.on('message', (msg: { id: number; req: WorkerRequest }) => {
  handle(msg.req).then(
    (result) => port.postMessage({ id: msg.id, ok: true, result }),
    (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) }),
  );
});
port.postMessage({ ready: true });
