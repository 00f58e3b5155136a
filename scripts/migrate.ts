/**
 * Applies pending database migrations (the app also does this at startup).
 * Usage: DATABASE_PATH=./data/agent.db npm run migrate
 */
import { openDatabase } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { existsSync } from 'node:fs';

// Same settings as `npm start`: .env in the working directory, real environment variables first.
if (existsSync('.env')) process.loadEnvFile('.env');

const path = process.env['DATABASE_PATH'] || './data/agent.db';
const { db } = openDatabase(path);
try {
  const applied = await migrateToLatest(db);
  process.stdout.write(applied.length ? `Applied ${applied.join(', ')} to ${path}\n` : `${path} is up to date\n`);
} catch (err) {
  process.stderr.write(`Migration of ${path} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
