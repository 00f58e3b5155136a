/**
 * `npm run build`: compiles src/, db/migrations and the operator scripts to dist/ with tsc
 * (tsconfig.build.json), then bundles the app's compiled entry point with its dependencies into
 * dist/app.mjs (esbuild). Plain JavaScript so it runs before anything is compiled.
 *
 * Why a bundle: loading ~500 modules one by one from node_modules was most of the app's start-up time and
 * a good part of its memory; one file loads in about a third of the time. Native and optional modules
 * stay outside it, migrations stay files in dist/db/migrations (found next to the bundle).
 *
 * The build goes to a temporary folder that replaces dist/ only once tsc succeeded: a failed build
 * leaves the previous dist/ whole, and deleted sources (a renamed migration) leave nothing behind.
 * dist/.build-stamp records when the build started; scripts/launch.mjs rebuilds when a source is newer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const STAMP = '.build-stamp';

/** What dist/ is built from: a change to any of these makes it stale. */
export const SOURCES = ['src', 'db', 'scripts/migrate.ts', 'scripts/index-knowledge.ts', 'scripts/export-audit.ts', 'scripts/build.mjs', 'tsconfig.json', 'tsconfig.build.json'];

/** Entry points run from a bundle (relative to dist/); other entries run as compiled by tsc. */
export const BUNDLES = { 'src/main.ts': 'app.mjs' };
/** Native addons and optional peers cannot be bundled; they load from node_modules as usual. */
const EXTERNAL = ['better-sqlite3', 'pg-native'];

/**
 * Node flags the app runs with (`npm start`, the Dockerfile's CMD and the bench's child process): V8's
 * heap tuned for memory over speed. With 10,000 suspended and 200 active runs the peak RSS was ~220 MB
 * without them and 140-156 MB with them (the goal is 200 MB). The price, measured with the whole bench
 * under the same flags: HTTP + Bolt work is slower, the 200-request `/agent help` burst took ~35% longer
 * at p99; the ack ratios to that floor and the per-turn overhead did not move beyond the bench's noise
 * (docs/performance.md). They cannot go in NODE_OPTIONS (Node refuses --optimize-for-size there), hence
 * the command line.
 */
export const APP_NODE_FLAGS = ['--optimize-for-size', '--max-semi-space-size=2'];

/** Newest modification time under `path` (directories count too: deleting a file changes its folder). */
function newestMtime(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  let newest = st.mtimeMs;
  if (st.isDirectory()) for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** Why `outDir` must be (re)built, or undefined when it is up to date with the sources under `root`. */
export function staleReason(root = ROOT, outDir = join(root, 'dist')) {
  const stamp = join(outDir, STAMP);
  if (!existsSync(stamp)) return `${outDir} has not been built`;
  const builtAt = statSync(stamp).mtimeMs;
  const changed = SOURCES.find((s) => newestMtime(join(root, s)) > builtAt);
  return changed ? `${changed} changed since the last build` : undefined;
}

/** Compiles into `outDir`; throws with tsc's output when the build fails. */
export function build(root = ROOT, outDir = join(root, 'dist')) {
  let tsc;
  try {
    tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    throw new Error(`${outDir} must be built, but TypeScript is not installed. Run \`npm install\` (with dev dependencies), or use a build that ships dist/ (see the Dockerfile).`);
  }
  const startedAt = new Date();
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', tmp], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`The build failed (tsc -p tsconfig.build.json):\n${r.stdout}${r.stderr}`);
  }
  // The compiled app is ESM: package.json's "type" is found by walking up from dist/, so nothing to copy.
  mkdirSync(tmp, { recursive: true });
  const esbuild = createRequire(join(root, 'package.json'))('esbuild');
  for (const [entry, bundle] of Object.entries(BUNDLES)) {
    esbuild.buildSync({
      entryPoints: [join(tmp, entry.replace(/\.ts$/, '.js'))],
      outfile: join(tmp, bundle),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: EXTERNAL,
      sourcemap: true,
      // V8 scans the whole text at start-up: without whitespace the bundle is 5.0 MB instead of 7.5 MB and
      // the start to a ready /healthz ~100 ms shorter. Names are kept (no identifier minification), so
      // stack traces and class names read as in the sources; the source map maps back to them.
      minifyWhitespace: true,
      minifySyntax: true,
      logLevel: 'error',
      // CommonJS dependencies call require(); in an ES module it has to be made.
      banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    });
  }
  for (const bundle of Object.values(BUNDLES)) {
    const file = join(tmp, bundle);
    writeFileSync(file, asciiOnly(readFileSync(file, 'utf8')));
  }
  const stamp = join(tmp, STAMP);
  writeFileSync(stamp, `${startedAt.toISOString()}\n`);
  // The stamp carries the build's start: a source saved while tsc ran is newer, so the next start rebuilds.
  utimesSync(stamp, startedAt, startedAt);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
}

/**
 * V8 keeps the source of a module in memory as long as it runs, and one character outside Latin-1
 * anywhere makes it store the whole text with two bytes a character: the 7.5 MB bundle cost 15 MB of
 * heap for the sake of a few dashes in comments and card texts. esbuild escapes non-ASCII in plain
 * strings but leaves comments and template literals as written, so the rest is escaped here:
 * `\uXXXX` means the same character in a string, a template's cooked text (what every tag in src/
 * reads), a regular expression (astral characters as surrogate pairs, which u-mode reads as one code
 * point) and an identifier, and nothing in a comment. Source-map columns after such a character on its
 * line shift by a few places.
 */
export function asciiOnly(text) {
  // A character already escaped by an odd run of backslashes (`\—`, which means `—`) loses one of them.
  return text.replace(/(\\*)([^\x00-\x7f])/g, (_, slashes, c) => `${slashes.length % 2 ? slashes.slice(1) : slashes}\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function main() {
  const args = process.argv.slice(2);
  const i = args.indexOf('--out-dir');
  const outDir = i >= 0 && args[i + 1] ? resolve(args[i + 1]) : join(ROOT, 'dist');
  const t0 = Date.now();
  try {
    build(ROOT, outDir);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`Built ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
