/** Command-line options of `npm run bench`. */

export interface BenchOptions {
  /** Runs completed in the throughput phase. */
  runs: number;
  /** Size of each concurrent burst (slash commands, clicks) and runs in flight (throughput, memory). */
  concurrency: number;
  modelLatencyMs: number;
  quick: boolean;
  out: string | undefined;
  /** Suspended runs seeded for the startup and memory figures. */
  suspended: number;
  /** Pending approvals seeded for the `/agent status` figure. */
  statusPending: number;
  /** Repeats of the 5-turn run (and of the bare loop) for the per-turn overhead. */
  overheadRepeats: number;
  /** Approve clicks sent one at a time (click -> dispatch on an otherwise idle app). */
  isolatedClicks: number;
  statusRequests: number;
  startupSpawns: number;
  /** Write CPU profiles of the in-process app per phase into this directory. */
  profileDir: string | undefined;
  /** Overall time budget; the bench aborts (non-zero) when it is exceeded. */
  timeoutS: number;
  /** Which measurements to run (all by default); handy with --profile. */
  phases: Set<Phase>;
  /** Measurement windows: the throughput and memory phases stop waiting after this long. */
  throughputWindowS: number;
  memoryWindowS: number;
  /** Extra environment for the app (in-process and child), e.g. MAX_CONCURRENT_RUNS=200. */
  appEnv: Record<string, string>;
  /** "Slack limits" section: runs started at once per scenario, and channels of the spread scenario. */
  limitsRuns: number;
  limitsChannels: number;
  /**
   * Workspaces the bursts, throughput and memory runs are spread over (run k goes to workspace k mod N):
   * Slack's limits and the app's pacing are per workspace, so with one workspace those figures would
   * measure the pacing of 200 task messages and cards, not the app.
   */
  workspaces: number;
  /** "Several instances" (scripts/bench/instances.ts): up to this many Postgres instances; 0 = not run. */
  instances: number;
  /** PostgreSQL server for that section; without it, a throwaway cluster when initdb is installed. */
  databaseUrl: string | undefined;
}

export const PHASES = ['overhead', 'isolated', 'burst', 'status', 'throughput', 'startup', 'memory', 'limits', 'cost'] as const;
export type Phase = (typeof PHASES)[number];

export const USAGE = `Usage: npm run bench -- [options]

  --runs N              runs to complete in the throughput phase (default 1000; quick 40), or as many
                        as complete within --throughput-window-s (default 120; quick 15)
  --concurrency N       concurrent requests per burst and runs in flight (default 200; quick 20)
  --model-latency-ms N  fake Claude latency per call (default 200)
  --memory-window-s N   how long the memory phase drives its active runs at most (default 90; quick 15)
  --overhead-repeats N  5-turn runs (and bare loops) the per-turn overhead is the median of (default 5;
                        quick 2); its run-to-run spread is a few ms per turn at 5
  --suspended N         suspended runs seeded for startup/memory (default 10000; quick 1000)
  --quick               small sizes (CI): a few seconds to ~30 s
  --out FILE            also write the figures as JSON to FILE
  --profile DIR         write CPU profiles of the app thread, one per phase, to DIR
  --limits-runs N       "Slack limits": runs started at once, in one channel and then spread over
                        several channels, with Slack's rate limits enforced (default 12; quick 6)
  --limits-channels N   channels of the spread scenario (default 4; quick 3)
  --workspaces N        workspaces the bursts, throughput and memory runs are spread over, as real
                        traffic is (default 25; 1: everything in one workspace, paced by Slack's limits)
  --timeout-s N         abort if the whole bench takes longer (default 900; quick 300; plus 150 per
                        configuration of --instances)
  --app-env NAME=VALUE  extra environment for the app under test (repeatable), e.g. MAX_CONCURRENT_RUNS=200
  --instances N         "Several instances": the app as N child processes on one PostgreSQL behind a
                        round-robin balancer; bursts of --concurrency /agent run and Approve clicks for
                        SQLite x1 and PostgreSQL x1..N (ack p50/p99, acks/s, runs done/s, exactly-once).
                        Not run unless asked (this or --database-url); alone unless --phases names others
  --database-url URL    PostgreSQL for that section (postgres://...; fresh database or schema per
                        configuration, dropped after); without it a throwaway cluster is started when the
                        server binaries (initdb) are installed. Alone it means --instances 2
  --phases LIST         only these measurements (comma-separated): overhead, isolated, burst,
                        status, throughput, startup, memory, limits, cost (default: all)
  --help                this text
`;

export function parseOptions(argv: string[]): BenchOptions {
  const args = [...argv];
  const quick = args.includes('--quick');
  const o: BenchOptions = {
    runs: quick ? 40 : 1000,
    concurrency: quick ? 20 : 200,
    modelLatencyMs: 200,
    quick,
    out: undefined,
    suspended: quick ? 1000 : 10_000,
    statusPending: 500,
    overheadRepeats: quick ? 2 : 5,
    isolatedClicks: quick ? 5 : 30,
    statusRequests: quick ? 10 : 30,
    startupSpawns: quick ? 1 : 3,
    profileDir: undefined,
    // The "Slack limits" section waits on Slack's pacing (about a minute in full mode).
    timeoutS: quick ? 300 : 900,
    phases: new Set(PHASES),
    appEnv: {},
    throughputWindowS: quick ? 15 : 120,
    memoryWindowS: quick ? 15 : 90,
    limitsRuns: quick ? 6 : 12,
    limitsChannels: quick ? 3 : 4,
    workspaces: 25,
    instances: 0,
    databaseUrl: undefined,
  };
  let phasesGiven = false;
  let timeoutGiven = false;
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min} (got ${v ?? 'nothing'})`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? args[++i];
    switch (flag) {
      case '--quick':
        break;
      case '--runs':
        o.runs = int(flag, value(), 1);
        break;
      case '--concurrency':
        o.concurrency = int(flag, value(), 1);
        break;
      case '--model-latency-ms':
        o.modelLatencyMs = int(flag, value(), 0);
        break;
      case '--suspended':
        o.suspended = int(flag, value(), 0);
        break;
      case '--throughput-window-s':
        o.throughputWindowS = int(flag, value(), 1);
        break;
      case '--memory-window-s':
        o.memoryWindowS = int(flag, value(), 1);
        break;
      case '--overhead-repeats':
        o.overheadRepeats = int(flag, value(), 1);
        break;
      case '--limits-runs':
        o.limitsRuns = int(flag, value(), 1);
        break;
      case '--limits-channels':
        o.limitsChannels = int(flag, value(), 2);
        // The bench world has 16 channels (scripts/bench/world.ts CHANNELS).
        if (o.limitsChannels > 16) throw new Error('--limits-channels takes at most 16');
        break;
      case '--workspaces':
        o.workspaces = int(flag, value(), 1);
        break;
      case '--timeout-s':
        o.timeoutS = int(flag, value(), 10);
        timeoutGiven = true;
        break;
      case '--out': {
        const v = value();
        if (!v) throw new Error('--out needs a file name');
        o.out = v;
        break;
      }
      case '--profile': {
        const v = value();
        if (!v) throw new Error('--profile needs a directory');
        o.profileDir = v;
        break;
      }
      case '--phases': {
        const list = (value() ?? '').split(',').map((p) => p.trim()).filter(Boolean);
        const unknown = list.filter((p) => !(PHASES as readonly string[]).includes(p));
        if (list.length === 0 || unknown.length > 0) throw new Error(`--phases takes a comma-separated list of ${PHASES.join(', ')}`);
        o.phases = new Set(list as Phase[]);
        phasesGiven = true;
        break;
      }
      case '--app-env': {
        const v = value() ?? '';
        const eq = v.indexOf('=');
        if (eq <= 0) throw new Error('--app-env takes NAME=VALUE');
        o.appEnv[v.slice(0, eq)] = v.slice(eq + 1);
        break;
      }
      case '--instances':
        o.instances = int(flag, value(), 1);
        if (o.instances > 8) throw new Error('--instances takes at most 8');
        break;
      case '--database-url': {
        const v = value() ?? '';
        if (!/^postgres(ql)?:\/\/[^/]/.test(v)) throw new Error('--database-url takes a postgres://user:password@host:5432/database URL');
        o.databaseUrl = v;
        break;
      }
      case '--help':
      case '-h':
        throw new HelpRequested();
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (o.databaseUrl && o.instances === 0) o.instances = 2;
  // Asking for the instances section runs it alone, unless --phases names other measurements too.
  if (o.instances > 0 && !phasesGiven) o.phases = new Set();
  // Each configuration of that section takes one to two minutes on a busy 2-core machine.
  if (o.instances > 0 && !timeoutGiven) o.timeoutS += 150 * (o.instances + 1);
  return o;
}

export class HelpRequested extends Error {}
