/**
 * What the two tracing diagnostics (`sqlTrace.ts`, `timeline.ts`) share: a hook on every statement
 * better-sqlite3 runs, and the real app started in this process against the bench's loopback fakes.
 */
import SQLite from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startApp, type RunningApp } from '../../src/main.js';
import { appEnv } from './appEnv.js';
import { parseOptions } from './options.js';
import type { World } from './world.js';

/** Called after each statement with its SQL text, when it started and how long better-sqlite3 took. */
export type StatementListener = (source: string, at: number, ms: number) => void;

let listener: StatementListener | null = null;
let installed = false;

/**
 * Sends every statement (commits included) to `fn` from now on; `null` stops. The methods are wrapped on
 * the prototype that all of better-sqlite3's statements share, so the app needs no change to be traced.
 */
export function onStatement(fn: StatementListener | null): void {
  listener = fn;
  if (installed) return;
  installed = true;
  const probe = new SQLite(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, (...args: unknown[]) => unknown>;
  probe.close();
  for (const method of ['all', 'run', 'get']) {
    const original = proto[method]!;
    proto[method] = function (this: { source: string }, ...args: unknown[]) {
      const to = listener;
      if (!to) return original.apply(this, args);
      const at = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        to(this.source, at, performance.now() - at);
      }
    };
  }
}

export interface TracedApp {
  app: RunningApp;
  /** The app's HTTP address, for signed requests. */
  base: string;
  close(): Promise<void>;
}

/** The app on a fresh SQLite file with a one-page knowledge base, configured as the bench configures it. */
export async function startTracedApp(world: World, prefix: string): Promise<TracedApp> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'knowledge'));
  writeFileSync(join(dir, 'knowledge', 'q2.md'), '# Q2 report\nRevenue grew 12% in Q2.\n');
  // The bench's own app settings, so the traces describe the app `npm run bench` measures.
  const app = await startApp(
    loadConfig(appEnv(world, dir, join(dir, 'a.db'), parseOptions([]))),
    { logger: pino({ level: 'silent' }), slackRetryConfig: { retries: 0 }, anthropicMaxRetries: 0, botIdentity: { botId: 'B', botUserId: 'U_BOT' } },
  );
  return {
    app,
    base: `http://127.0.0.1:${app.port}`,
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
