import { sql, type RawBuilder } from 'kysely';
import type { Db } from './connection.js';
import { isPostgres } from './dialect.js';

/**
 * "Now" (plus `plusMs`) for leases and heartbeats, as ISO-8601 text comparable with the stored columns.
 * On Postgres it is the database server's clock, so instances on hosts whose clocks disagree still agree
 * on whose lease has expired. SQLite lives on one host: its clock is that host's.
 */
export function dbTime(db: Db, plusMs = 0): RawBuilder<string> {
  if (isPostgres(db)) {
    return sql<string>`to_char((now() + make_interval(secs => ${plusMs / 1000}::double precision)) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  }
  return sql<string>`${new Date(Date.now() + plusMs).toISOString()}`;
}
