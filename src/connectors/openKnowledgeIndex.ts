import type { OpenedDatabase } from '../db/connection.js';
import type { KnowledgeIndex } from './knowledgeIndex.js';
import { createPostgresKnowledgeIndex } from './knowledgeIndexPostgres.js';
import { createSqliteKnowledgeIndex } from './knowledgeIndexSqlite.js';

/** The knowledge index of whichever engine the app runs on, stored in the app's own database. */
export async function openKnowledgeIndex(opened: OpenedDatabase): Promise<KnowledgeIndex> {
  return opened.engine === 'postgres' ? createPostgresKnowledgeIndex(opened.db) : createSqliteKnowledgeIndex(opened.sqlite);
}
