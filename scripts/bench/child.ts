/**
 * The app as operators run it: `node --import tsx src/main.ts` in a child process, configured only
 * through its environment. Used for the startup and memory figures, which must include everything a
 * fresh process does (loading modules, migrations, recovery).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface ChildApp {
  proc: ChildProcess;
  pid: number;
  port: number;
  baseUrl: string;
  /** ms from spawn() to the first 200 from GET /healthz. */
  startupMs: number;
  /** Peak resident set size so far, in MiB (VmHWM, or the highest `ps` sample where /proc is missing). */
  peakRssMiB(): number;
  rssMiB(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function psRssKiB(pid: number): number | undefined {
  try {
    const out = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 });
    const v = Number(out.trim());
    return Number.isFinite(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

const live = new Set<ChildProcess>();

/** Kills every child this module started that is still running (exit paths, watchdog). */
export function killChildren(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/**
 * `node --import tsx <root>/src/main.ts`, with absolute paths so the working directory can be an empty
 * temporary one: the app reads `.env` from its working directory, and a developer's `.env` must not leak
 * real credentials or endpoints into the benchmark.
 */
export async function spawnChildApp(opts: { root: string; cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<ChildApp> {
  const port = await freePort();
  const tsx = import.meta.resolve('tsx');
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['--import', tsx, join(opts.root, 'src', 'main.ts')], {
    cwd: opts.cwd,
    env: { ...opts.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(proc);
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => live.delete(proc));
  const pid = proc.pid;
  if (pid === undefined) throw new Error('could not spawn the child app');

  let sampledPeak = 0;
  const sample = () => {
    const rss = procStatusKiB(pid, 'VmRSS') ?? psRssKiB(pid);
    if (rss !== undefined) sampledPeak = Math.max(sampledPeak, rss);
  };
  const sampler = setInterval(sample, 100);
  sampler.unref();

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = t0 + opts.timeoutMs;
  let startupMs: number | undefined;
  while (startupMs === undefined) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      clearInterval(sampler);
      throw new Error(`the child app exited (${proc.exitCode ?? proc.signalCode}) before it was healthy:\n${stderr.trim()}`);
    }
    if (performance.now() > deadline) {
      clearInterval(sampler);
      proc.kill('SIGKILL');
      throw new Error(`the child app was not healthy within ${opts.timeoutMs} ms:\n${stderr.trim()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) startupMs = performance.now() - t0;
    } catch {
      // Not listening yet.
    }
    if (startupMs === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  sample();

  return {
    proc,
    pid,
    port,
    baseUrl,
    startupMs,
    peakRssMiB() {
      sample();
      const hwm = procStatusKiB(pid, 'VmHWM');
      return (hwm ?? sampledPeak) / 1024;
    },
    rssMiB() {
      return (procStatusKiB(pid, 'VmRSS') ?? psRssKiB(pid) ?? 0) / 1024;
    },
    async stop() {
      clearInterval(sampler);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
