import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { AppError } from '../errors.js';

/**
 * The nearest db/migrations above this module: db/migrations from src/db/migrate.ts (tsx, tests),
 * dist/db/migrations from the compiled dist/src/db/migrate.js and from the bundled dist/app.mjs.
 */
function findMigrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = ['db/migrations', '../db/migrations', '../../db/migrations'].map((p) => path.resolve(here, p));
  return candidates.find((dir) => existsSync(dir)) ?? candidates.at(-1)!;
}

export const MIGRATIONS_DIR = findMigrationsDir();

/**
 * Loads db/migrations/*.ts. The import happens here rather than inside Kysely's FileMigrationProvider
 * so that the TypeScript loader in use (tsx at runtime, Vite in tests) handles the .ts files.
 */
class TsFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await fs.readdir(this.dir)).filter((f) => /^\d+_[\w-]+\.(ts|js)$/.test(f)).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const mod = (await import(pathToFileURL(path.join(this.dir, file)).href)) as Partial<Migration>;
      if (typeof mod.up !== 'function') throw new AppError('invalid_state', `Migration ${file} has no up()`);
      migrations[file.replace(/\.(ts|js)$/, '')] = { up: mod.up, ...(mod.down ? { down: mod.down } : {}) };
    }
    return migrations;
  }
}

/** The migrations of db/migrations, for a Migrator (tests roll them back too). */
export function migrationProvider(): MigrationProvider {
  return new TsFileMigrationProvider(MIGRATIONS_DIR);
}

/** Applies every pending migration from db/migrations; throws if one fails (the app must not start). */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new AppError('invalid_state', `Database migration failed: ${String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
