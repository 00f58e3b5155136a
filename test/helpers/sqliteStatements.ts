import SQLite from 'better-sqlite3';

const proto = Object.getPrototypeOf(new SQLite(':memory:').prepare('select 1')) as Record<string, (...a: unknown[]) => unknown>;

/**
 * Calls `seen` with the SQL of every statement better-sqlite3 runs in this test worker (transaction
 * statements included) until the returned function restores the originals.
 */
export function watchStatements(seen: (source: string) => void): () => void {
  const originals: Record<string, (...a: unknown[]) => unknown> = {};
  for (const m of ['all', 'get', 'run', 'iterate']) {
    const orig = proto[m]!;
    originals[m] = orig;
    proto[m] = function (this: { source: string }, ...args: unknown[]) {
      seen(this.source);
      return orig.apply(this, args);
    };
  }
  return () => {
    for (const [m, orig] of Object.entries(originals)) proto[m] = orig;
  };
}
