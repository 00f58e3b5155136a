/**
 * Rebuilds the knowledge-base search index from KNOWLEDGE_DIR into the app's database (DATABASE_URL
 * when set, else DATABASE_PATH).
 * Usage: npm run index-knowledge   (or: npx tsx scripts/index-knowledge.ts)
 * Safe while the app runs: the index is replaced in one transaction and the app waits on the lock.
 */
import { existsSync } from 'node:fs';
import { loadDatabaseSettings } from '../src/config.js';
import { openKnowledgeIndex } from '../src/connectors/openKnowledgeIndex.js';
import { databaseTarget, describeDatabase, openDatabase, type DatabaseTarget } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { errorMessage } from '../src/errors.js';

// Same settings as `npm start`: .env in the working directory, real environment variables first.
if (existsSync('.env')) process.loadEnvFile('.env');

const knowledgeDir = process.env.KNOWLEDGE_DIR || './knowledge';
let target: DatabaseTarget | undefined;

async function main(): Promise<void> {
  target = databaseTarget(loadDatabaseSettings(process.env));
  if (!existsSync(knowledgeDir)) {
    // Not fatal: an empty knowledge base is valid, but an operator most likely mistyped the path.
    console.warn(`Warning: ${knowledgeDir} does not exist; the knowledge base will be empty.`);
  }

  const opened = openDatabase(target);
  const { db } = opened;
  try {
    await migrateToLatest(db);
    const index = await openKnowledgeIndex(opened);
    const { files, skipped } = await index.reindex(knowledgeDir);
    console.log(`Indexed ${files} files from ${knowledgeDir}`);
    if (skipped.length > 0) {
      console.log(`Skipped ${skipped.length} files (larger than 2 MB or not text):`);
      for (const file of skipped) console.log(`  ${file}`);
    }
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(
    `index-knowledge failed (${target ? describeDatabase(target) : 'database settings'}, KNOWLEDGE_DIR=${knowledgeDir}): ${errorMessage(err)}`,
  );
  process.exitCode = 1;
});
