import { sql, type Kysely, type Transaction } from 'kysely';
import {
  BODY_WEIGHT,
  SNIPPET_TOKENS,
  TITLE_WEIGHT,
  clampLimit,
  cleanSnippet,
  queryTerms,
  readKnowledgeDir,
  type KnowledgeIndex,
} from './knowledgeIndex.js';

// The text search configuration: English stemming (Snowball) like FTS5's porter tokenizer, and, like
// FTS5, no stopword list, so a query made only of common words still finds something.
const CONFIG = 'agent_knowledge';
const DICTIONARY = 'agent_knowledge_stem';
// Serialises schema setup and reindexing across connections and instances (an arbitrary constant).
const LOCK_KEY = 7_410_513_301;

// ts_rank's weights, in the order D, C, B, A, each in [0, 1]: titles are A, bodies D.
const RANK_WEIGHTS = `{${BODY_WEIGHT / TITLE_WEIGHT}, 0, 0, 1}`;
const HEADLINE_OPTIONS =
  `StartSel=**, StopSel=**, MaxWords=${SNIPPET_TOKENS}, MinWords=${Math.floor(SNIPPET_TOKENS / 2)}, ` +
  'ShortWord=2, MaxFragments=1, FragmentDelimiter=" … "';

/** Postgres error codes that mean "this one document cannot be indexed" rather than a broken database. */
const DOCUMENT_TOO_LARGE = new Set(['54000' /* program_limit_exceeded: tsvector over 1 MB */]);

interface Row {
  path: string;
  title: string;
  snippet: string;
  rank: number;
}

/**
 * The knowledge index in Postgres: one row per document with a stored tsvector (title weighted A,
 * body D) under a GIN index, ranked with ts_rank and excerpted with ts_headline. Its table and text
 * search configuration belong to this index, not to the shared migrations, as the FTS5 table does.
 */
export async function createPostgresKnowledgeIndex(db: Kysely<any>): Promise<KnowledgeIndex> {
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
    await ensureSchema(trx);
  });

  return {
    async reindex(dir) {
      const { docs, skipped } = await readKnowledgeDir(dir);
      const tooLarge: string[] = [];
      // One transaction: searches on other connections see the old index or the new one, never a mix.
      await db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
        await sql`DELETE FROM knowledge_docs`.execute(trx);
        for (const doc of docs) {
          // A savepoint per document: one document over Postgres' tsvector limit is skipped, not fatal.
          await sql`SAVEPOINT knowledge_doc`.execute(trx);
          try {
            await sql`INSERT INTO knowledge_docs (path, title, body) VALUES (${doc.path}, ${doc.title}, ${doc.body})`.execute(trx);
            await sql`RELEASE SAVEPOINT knowledge_doc`.execute(trx);
          } catch (err) {
            if (!DOCUMENT_TOO_LARGE.has(String((err as { code?: unknown }).code))) throw err;
            await sql`ROLLBACK TO SAVEPOINT knowledge_doc`.execute(trx);
            tooLarge.push(doc.path);
          }
        }
      });
      return { files: docs.length - tooLarge.length, skipped: [...skipped, ...tooLarge].sort() };
    },

    async search(query, limit) {
      const terms = queryTerms(query);
      if (terms.length === 0) return [];
      // Each term is its own phrase query (a term the parser splits, like "x1y2", must match as a
      // phrase, as in FTS5), OR-ed together. Every term is a bound parameter: nothing the user typed
      // is ever parsed as tsquery syntax.
      const tsquery = sql.join(
        terms.map((t) => sql`phraseto_tsquery(${sql.lit(CONFIG)}::regconfig, ${t})`),
        sql` || `,
      );
      // Rank in the inner query, excerpt only the hits kept: ts_headline re-reads the whole body.
      const { rows } = await sql<Row>`
        SELECT hit.path, hit.title, hit.rank,
               ts_headline(${sql.lit(CONFIG)}::regconfig, hit.body, hit.q, ${HEADLINE_OPTIONS}) AS snippet
          FROM (SELECT d.path, d.title, d.body, q.q,
                       ts_rank(${RANK_WEIGHTS}::float4[], d.document, q.q) AS rank
                  FROM knowledge_docs d, (SELECT ${tsquery} AS q) q
                 WHERE d.document @@ q.q
                 ORDER BY rank DESC, d.path
                 LIMIT ${clampLimit(limit)}) hit
         ORDER BY hit.rank DESC, hit.path`.execute(db);
      return rows.map((row) => ({ path: row.path, title: row.title, snippet: cleanSnippet(row.snippet), score: Number(row.rank) }));
    },

    async count() {
      const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM knowledge_docs`.execute(db);
      return Number(rows[0]?.n ?? 0);
    },
  };
}

async function ensureSchema(trx: Transaction<any>): Promise<void> {
  const existing = await sql<{ n: number }>`SELECT count(*) AS n FROM pg_ts_config WHERE cfgname = ${CONFIG} AND cfgnamespace = current_schema()::regnamespace`.execute(trx);
  if (Number(existing.rows[0]?.n ?? 0) === 0) {
    await sql`CREATE TEXT SEARCH DICTIONARY ${sql.id(DICTIONARY)} (TEMPLATE = snowball, LANGUAGE = english)`.execute(trx);
    await sql`CREATE TEXT SEARCH CONFIGURATION ${sql.id(CONFIG)} (COPY = english)`.execute(trx);
    await sql`ALTER TEXT SEARCH CONFIGURATION ${sql.id(CONFIG)}
                ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
                WITH ${sql.id(DICTIONARY)}`.execute(trx);
  }
  await sql`
    CREATE TABLE IF NOT EXISTS knowledge_docs (
      path text PRIMARY KEY,
      title text NOT NULL,
      body text NOT NULL,
      document tsvector NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector(${sql.lit(CONFIG)}::regconfig, title), 'A') ||
        setweight(to_tsvector(${sql.lit(CONFIG)}::regconfig, body), 'D')
      ) STORED
    )`.execute(trx);
  await sql`CREATE INDEX IF NOT EXISTS knowledge_docs_document ON knowledge_docs USING gin (document)`.execute(trx);
}
