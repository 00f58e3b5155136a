import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Full-text index over the knowledge folder. The interface is engine-neutral: SQLite's FTS5
 * (knowledgeIndexSqlite.ts) and Postgres' tsvector (knowledgeIndexPostgres.ts) implement it, and the
 * same ranking tests hold for both. This file holds what they share: reading the folder, titles, and
 * turning free text into safe search terms.
 */
export interface KnowledgeHit {
  /** Relative to the indexed folder, always with forward slashes. */
  path: string;
  title: string;
  /** A short excerpt around the match, matched terms wrapped in `**`. */
  snippet: string;
  /** Higher is more relevant. Only meaningful for comparing hits of one search. */
  score: number;
}

export interface KnowledgeIndex {
  /** Replaces the whole index with the folder's current content. `skipped`: files too large or not text. */
  reindex(dir: string): Promise<{ files: number; skipped: string[] }>;
  search(query: string, limit?: number): Promise<KnowledgeHit[]>;
  count(): Promise<number>;
}

export const KNOWLEDGE_EXTENSIONS = ['.md', '.markdown', '.txt'] as const;
export const MAX_KNOWLEDGE_FILE_BYTES = 2 * 1024 * 1024;

const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 50;
// A runaway query (a pasted page) would OR hundreds of terms; the first few carry the intent.
const MAX_QUERY_TERMS = 32;
// Title matches say more about a document than a passing mention in its body.
export const TITLE_WEIGHT = 10;
export const BODY_WEIGHT = 1;
export const SNIPPET_TOKENS = 20;

/** The number of hits to return: the default when unset, at least 1, at most MAX_LIMIT. */
export function clampLimit(limit: number = DEFAULT_LIMIT): number {
  return Math.min(Math.max(Math.floor(limit), 1), MAX_LIMIT);
}

// Words so common that OR-ing them in would match nearly every document and drown out "No documents
// matched". Only dropped when the query has other terms.
const STOPWORDS = new Set(
  (
    'a an and are as at be by can do does for from how i in is it its me my of on or our should the this ' +
    'that to was we what when where which who why will with you your'
  ).split(' '),
);

export interface KnowledgeDoc {
  path: string;
  title: string;
  body: string;
}

/**
 * One line for display. A match inside the document's own **bold** gets doubled markers (****word****);
 * collapsing them keeps the excerpt readable and still marked.
 */
export function cleanSnippet(snippet: string): string {
  return snippet.replace(/\s+/g, ' ').replace(/\*{4,}/g, '**').trim();
}

/**
 * The words of free text worth searching for, each made only of letters, digits and marks, so operators
 * (OR, NEAR, -, ^, *, column filters, parentheses, quotes) in the user's text are plain words or gone.
 * Empty when nothing searchable is left.
 */
export function queryTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  const unique = [...new Set(words)];
  const meaningful = unique.filter((w) => !STOPWORDS.has(w));
  return (meaningful.length > 0 ? meaningful : unique).slice(0, MAX_QUERY_TERMS);
}

/**
 * Turns free text into an FTS5 query that cannot be a syntax error: every term is a quoted string.
 * Terms are OR-ed; bm25 rewards documents matching more. Returns null when nothing searchable is left.
 */
export function toFtsQuery(text: string): string | null {
  const terms = queryTerms(text);
  if (terms.length === 0) return null;
  return terms.map((t) => `"${t}"`).join(' OR ');
}

export async function readKnowledgeDir(dir: string): Promise<{ docs: KnowledgeDoc[]; skipped: string[] }> {
  const docs: KnowledgeDoc[] = [];
  const skipped: string[] = [];
  for (const file of await listKnowledgeFiles(dir)) {
    const rel = toRelative(dir, file);
    const stat = await fs.stat(file);
    if (stat.size > MAX_KNOWLEDGE_FILE_BYTES) {
      skipped.push(rel);
      continue;
    }
    const buf = await fs.readFile(file);
    // Re-checked after reading: the file may have grown since stat. A NUL byte means it is not text.
    if (buf.length > MAX_KNOWLEDGE_FILE_BYTES || buf.includes(0)) {
      skipped.push(rel);
      continue;
    }
    const body = buf.toString('utf8').replace(/^\uFEFF/, '');
    docs.push({ path: rel, title: titleOf(file, body), body });
  }
  return { docs, skipped };
}

/** Sorted list of indexable files; a missing folder is an empty knowledge base, not an error. */
async function listKnowledgeFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(current, { withFileTypes: true });
    } catch (err) {
      if (current === dir && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(current, entry.name);
      // Symlinks are neither files nor directories here: following them could loop or leave the folder.
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && isKnowledgeFile(entry.name)) out.push(full);
    }
  };
  await walk(dir);
  return out.sort();
}

function isKnowledgeFile(name: string): boolean {
  const ext = path.extname(name).toLowerCase();
  return (KNOWLEDGE_EXTENSIONS as readonly string[]).includes(ext);
}

function toRelative(dir: string, file: string): string {
  return path.relative(dir, file).split(path.sep).join('/');
}

/** First Markdown heading (outside code fences), else the file name without its extension. */
export function titleOf(file: string, body: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.txt') {
    let inFence = false;
    for (const line of body.split(/\r?\n/)) {
      if (/^\s{0,3}(```|~~~)/.test(line)) inFence = !inFence;
      if (inFence) continue;
      const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
      if (m?.[1]) return m[1];
    }
  }
  return path.basename(file, path.extname(file));
}
