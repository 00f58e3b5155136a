import type SQLite from 'better-sqlite3';
import {
  BODY_WEIGHT,
  SNIPPET_TOKENS,
  TITLE_WEIGHT,
  clampLimit,
  cleanSnippet,
  readKnowledgeDir,
  toFtsQuery,
  type KnowledgeDoc,
  type KnowledgeIndex,
} from './knowledgeIndex.js';

interface Row {
  path: string;
  title: string;
  snippet: string;
  rank: number;
}

/** The knowledge index in SQLite's FTS5, in the app's database file (porter stemming, no stopwords). */
export function createSqliteKnowledgeIndex(sqlite: SQLite.Database): KnowledgeIndex {
  sqlite.exec(
    `CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_fts
       USING fts5(path UNINDEXED, title, body, tokenize='porter unicode61')`,
  );

  const clear = sqlite.prepare('DELETE FROM knowledge_fts');
  const insert = sqlite.prepare('INSERT INTO knowledge_fts (path, title, body) VALUES (?, ?, ?)');
  const countStmt = sqlite.prepare('SELECT count(*) AS n FROM knowledge_fts').pluck();
  // bm25() takes one weight per column, the unindexed path included; lower bm25 is better.
  const searchStmt = sqlite.prepare<[string, number], Row>(
    `SELECT path, title,
            snippet(knowledge_fts, 2, '**', '**', '…', ${SNIPPET_TOKENS}) AS snippet,
            bm25(knowledge_fts, 0, ${TITLE_WEIGHT}, ${BODY_WEIGHT}) AS rank
       FROM knowledge_fts
      WHERE knowledge_fts MATCH ?
      ORDER BY rank, path
      LIMIT ?`,
  );

  // better-sqlite3 transactions are synchronous, so no search on this connection can run in between,
  // and other connections (WAL) see either the old index or the new one.
  const replaceAll = sqlite.transaction((docs: KnowledgeDoc[]) => {
    clear.run();
    for (const doc of docs) insert.run(doc.path, doc.title, doc.body);
  });

  return {
    async reindex(dir) {
      // Read everything before opening the transaction: a transaction cannot span awaits safely.
      const { docs, skipped } = await readKnowledgeDir(dir);
      replaceAll(docs);
      return { files: docs.length, skipped };
    },

    async search(query, limit) {
      const match = toFtsQuery(query);
      if (match === null) return [];
      return searchStmt.all(match, clampLimit(limit)).map((row) => ({
        path: row.path,
        title: row.title,
        snippet: cleanSnippet(row.snippet),
        score: -row.rank,
      }));
    },

    async count() {
      return Number(countStmt.get());
    },
  };
}
