/**
 * Runs a compiled entry point: `node scripts/launch.mjs src/main.ts [args]` runs the app's bundle
 * (dist/app.mjs); other entries run as tsc compiled them (scripts/migrate.ts -> dist/scripts/migrate.js).
 * `npm start` and the operator scripts go through it, so `npm install && npm start` works on a fresh
 * clone: dist/ is built first when it is missing or older than a source (scripts/build.mjs).
 *
 * The entry is imported into this same process (no second Node process, no TypeScript loader at run
 * time), with process.argv as if it had been started directly.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, BUNDLES, ROOT, staleReason } from './build.mjs';

const entry = process.argv[2];
if (!entry || !/\.ts$/.test(entry)) {
  process.stderr.write('Usage: node scripts/launch.mjs <source entry .ts> [args...]\n');
  process.exit(2);
}

const outDir = join(ROOT, 'dist');
const why = staleReason(ROOT, outDir);
if (why) {
  process.stderr.write(`Building dist/ (${why})...\n`);
  try {
    build(ROOT, outDir);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

const compiled = join(outDir, BUNDLES[entry] ?? entry.replace(/\.ts$/, '.js'));
if (!existsSync(compiled)) {
  process.stderr.write(`No compiled ${compiled}: is ${entry} part of tsconfig.build.json?\n`);
  process.exit(1);
}
// The entry checks process.argv[1] to know it is the program being run (src/main.ts does).
process.argv.splice(1, 2, resolve(compiled));
await import(pathToFileURL(compiled).href);
