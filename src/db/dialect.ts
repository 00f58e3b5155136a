import { PostgresAdapter, type Kysely } from 'kysely';

/**
 * For the few places where the engines need different SQL. Works on transactions too (they share the
 * parent's executor and adapter).
 */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
