/**
 * The app as operators run it: what `npm start` runs (`node scripts/launch.mjs src/main.ts`: the
 * compiled app in dist/) in a child process, configured only through its environment; or `npm start`
 * itself, npm's own start-up included. Used for the startup and memory figures, which must include
 * everything a fresh process does (loading modules, migrations, recovery).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { APP_NODE_FLAGS } from '../build.mjs';

export interface ChildApp {
  proc: ChildProcess;
  pid: number;
  port: number;
  baseUrl: string;
  /** ms from spawn() to the first 200 from GET /healthz. */
  startupMs: number;
  /**
   * CPU time (user + system, all threads) the process had used by then: unlike the wall time, it hardly
   * depends on what else the machine is doing. Undefined through npm (that pid is npm's).
   */
  startupCpuMs: number | undefined;
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

/** utime + stime of a process, in ms (Linux /proc; clock ticks are 100 per second there). */
function procCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
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

/** Each child leads its own process group: `npm start` runs the app as a grandchild, which must go too. */
function signal(p: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (p.pid !== undefined) process.kill(-p.pid, sig);
  } catch {
    p.kill(sig);
  }
}

/** Kills every child this module started that is still running (exit paths, watchdog). */
export function killChildren(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) signal(p, 'SIGKILL');
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * `node <root>/scripts/launch.mjs src/main.ts` (dist/ must be built: the bench builds it first), with
 * absolute paths so the working directory can be an empty temporary one: the app reads `.env` from its
 * working directory, and a developer's `.env` must not leak real credentials or endpoints into the
 * benchmark. `via: 'npm'` runs `npm start` from a package.json in that directory whose start script is
 * the same command, so the figure includes npm's own start-up.
 */
export async function spawnChildApp(opts: { root: string; cwd: string; env: Record<string, string>; timeoutMs: number; via?: 'node' | 'npm' }): Promise<ChildApp> {
  const port = await freePort();
  const launch = [join(opts.root, 'scripts', 'launch.mjs'), 'src/main.ts'];
  if (opts.via === 'npm') writeFileSync(join(opts.cwd, 'package.json'), JSON.stringify({ private: true, scripts: { start: `node ${[...APP_NODE_FLAGS, ...launch.map((a) => JSON.stringify(a))].join(' ')}` } }));
  const t0 = performance.now();
  // BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the child: Node refuses
  // --cpu-prof in NODE_OPTIONS, so it has to go on the command line.
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [cmd, args] = opts.via === 'npm' ? ['npm', ['start', '--silent']] : [process.execPath, [...APP_NODE_FLAGS, ...nodeArgs, ...launch]];
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...opts.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
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
      signal(proc, 'SIGKILL');
      throw new Error(`the child app was not healthy within ${opts.timeoutMs} ms:\n${stderr.trim()}`);
    }
    // A bare TCP connect until the port listens (a refused connect costs next to nothing), then HTTP: a
    // fetch every 5 ms kept this process at a quarter of a core, on the two cores the child starts on.
    try {
      if (await listening(port)) {
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) startupMs = performance.now() - t0;
      }
    } catch {
      // Not answering yet.
    }
    if (startupMs === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  sample();
  const startupCpuMs = opts.via === 'npm' ? undefined : procCpuMs(pid);

  return {
    proc,
    pid,
    port,
    baseUrl,
    startupMs,
    startupCpuMs,
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
      signal(proc, 'SIGTERM');
      const timer = setTimeout(() => signal(proc, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
