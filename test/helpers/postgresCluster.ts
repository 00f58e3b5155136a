import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster for the test suite: initdb into a temp folder, a postmaster on a free
 * loopback port, trust authentication (only this machine's loopback can reach it), and no fsync (its data
 * is thrown away). initdb refuses to run as root, so as root the server runs as an unprivileged user.
 */
export interface PostgresCluster {
  /** Connection URL of the `postgres` maintenance database, as the superuser. */
  adminUrl: string;
  version: string;
  stop(): Promise<void>;
}

const SUPERUSER = 'agent_test';

/** Debian installs server binaries under /usr/lib/postgresql/<major>/bin; PG_BINDIR overrides. */
export function findPostgresBinDir(): string | undefined {
  const fromEnv = process.env['PG_BINDIR'];
  if (fromEnv) return existsSync(join(fromEnv, 'initdb')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

/** The account the server runs as when we are root: Debian's `postgres` if present, else `nobody`. */
async function serverAccount(): Promise<{ user: string; uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const { stdout } = await run('id', ['-u', user]);
      const { stdout: g } = await run('id', ['-g', user]);
      return { user, uid: Number(stdout.trim()), gid: Number(g.trim()) };
    } catch {
      // try the next one
    }
  }
  throw new Error('Running as root and neither a "postgres" nor a "nobody" account exists to run initdb as');
}

async function freeLoopbackPort(): Promise<number> {
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

const DIR_PREFIX = 'agent-pg-';
const OWNER_FILE = 'owner.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops and deletes clusters left by earlier test runs whose process died without its teardown (killed,
 * timed out). A cluster whose owning process is alive belongs to a run in progress and is left alone.
 */
async function reapAbandonedClusters(as: (cmd: string, args: string[]) => Promise<unknown>): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    if (existsSync(join(dir, 'data', 'postmaster.pid'))) {
      await as('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = findPostgresBinDir();
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries not found (initdb). Install Debian\'s "postgresql" package, set PG_BINDIR, ' +
        'set TEST_DATABASE_URL to an existing server, or run only the SQLite tests with `npx vitest run --project sqlite`.',
    );
  }
  const account = await serverAccount();
  const as = async (cmd: string, args: string[]) =>
    account ? run('runuser', ['-u', account.user, '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  await reapAbandonedClusters(as);
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  if (account) chownSync(dir, account.uid, account.gid);
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');

  try {
    await as('initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    // Retries cover the small window in which another process takes the port we picked.
    for (let attempt = 1; ; attempt++) {
      const port = await freeLoopbackPort();
      const options = [
        `-p ${port}`,
        `-k ${dir}`,
        '-c listen_addresses=127.0.0.1',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=300',
      ].join(' ');
      try {
        await as('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', options, 'start']);
      } catch (err) {
        if (attempt < 3) continue;
        throw err;
      }
      const { stdout } = await as('postgres', ['--version']);
      return {
        adminUrl: `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`,
        version: stdout.trim(),
        async stop() {
          await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Could not start a throwaway PostgreSQL cluster: ${String(err)}\n${serverLog}`);
  }
}
