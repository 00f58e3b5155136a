/**
 * Applies pending database migrations (the app also does this at startup).
 * Usage: DATABASE_PATH=./data/agent.db npm run migrate   (or DATABASE_URL=postgres://... npm run migrate)
 */
import { loadDatabaseSettings } from '../src/config.js';
import { databaseTarget, describeDatabase, openDatabase } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { existsSync } from 'node:fs';

// Same settings as `npm start`: .env in the working directory, real environment variables first.
if (existsSync('.env')) process.loadEnvFile('.env');

const target = (() => {
  try {
    return databaseTarget(loadDatabaseSettings(process.env));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
})();
const where = describeDatabase(target);
const { db } = openDatabase(target);
try {
  const applied = await migrateToLatest(db);
  process.stdout.write(applied.length ? `Applied ${applied.join(', ')} to ${where}\n` : `${where} is up to date\n`);
} catch (err) {
  process.stderr.write(`Migration of ${where} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
