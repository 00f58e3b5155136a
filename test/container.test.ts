/**
 * The container files, checked without Docker (it cannot run on these machines): the Dockerfile's
 * stages, user, copied paths and health check, and compose.yaml's services. The HEALTHCHECK command is
 * run for real against a live app.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { APP_NODE_FLAGS, BUNDLES } from '../scripts/build.mjs';
import { loadConfig } from '../src/config.js';
import { startHarness, type Harness } from './helpers/testApp.js';

const ROOT = new URL('..', import.meta.url).pathname;

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with continuations joined and comments dropped, numbered by stage. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  let stage = -1;
  const out: Instruction[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op, ...rest] = line.split(/\s+/);
    if (op!.toUpperCase() === 'FROM') stage++;
    out.push({ op: op!.toUpperCase(), args: rest.join(' '), stage });
  }
  return out;
}

/** The JSON (exec) form of CMD / HEALTHCHECK CMD. */
function execForm(args: string): string[] {
  return JSON.parse(args.replace(/^.*?CMD\s+/, '')) as string[];
}

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const all = instructions(text);
  const last = Math.max(...all.map((i) => i.stage));
  const final = all.filter((i) => i.stage === last);
  const build = all.filter((i) => i.stage === 0);

  it('builds in one stage and runs from another, on Node 20 (the engines range)', () => {
    const froms = all.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.args).toMatch(/^node:20[\w.-]*/);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines.node).toBe('>=20.19');
    // The runtime stage copies the build's output; it never installs dev dependencies or compiles.
    expect(final.some((i) => i.op === 'COPY' && /--from=build\b.*\/app\/dist\b/.test(i.args))).toBe(true);
    expect(final.some((i) => i.op === 'RUN' && /npm (ci|install)|tsc|g\+\+/.test(i.args))).toBe(false);
    expect(final.some((i) => i.op === 'COPY' && /\bsrc\b/.test(i.args))).toBe(false);
  });

  it('keeps only production dependencies, built by the build stage', () => {
    const prune = build.find((i) => i.op === 'RUN' && /npm prune --omit=dev/.test(i.args));
    expect(prune?.args).toContain('npm run build');
    expect(final.some((i) => i.op === 'COPY' && /--from=build \/app\/node_modules/.test(i.args))).toBe(true);
    // tsx and TypeScript are dev dependencies, so the runtime image has no compiler or loader.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const dev of ['tsx', 'typescript', 'vitest']) {
      expect(pkg.dependencies[dev], dev).toBeUndefined();
      expect(pkg.devDependencies[dev], dev).toBeDefined();
    }
    expect(pkg.dependencies['prom-client']).toBe('15.1.3');
  });

  it('copies only paths that exist and are not excluded from the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
    for (const copy of all.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
        expect(ignored.includes(src), `${src} is in .dockerignore`).toBe(false);
      }
    }
    for (const secret of ['.env', 'node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(secret);
  });

  it('runs as the unprivileged node user, the compiled entry point, with a health check on /healthz', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1);
    expect(user?.args).toBe('node');
    const cmd = execForm(final.find((i) => i.op === 'CMD')!.args);
    // What `npm start` runs: the build's bundle of src/main.ts, next to the compiled migrations.
    expect(cmd).toEqual(['node', ...APP_NODE_FLAGS, `dist/${BUNDLES['src/main.ts']}`]);
    const buildConfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'));
    expect(buildConfig.compilerOptions.outDir).toBe('dist');
    expect(buildConfig.compilerOptions.rootDir).toBe('.');
    expect(buildConfig.include).toEqual(expect.arrayContaining(['src', 'db']));
    const health = final.find((i) => i.op === 'HEALTHCHECK');
    expect(health?.args).toContain('/healthz');
    expect(final.find((i) => i.op === 'EXPOSE')?.args).toBe('3000');
  });

  describe('the HEALTHCHECK command', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(async () => {
      await h.close();
    });

    const probe = (port: number) => {
      const [node, ...args] = execForm(final.find((i) => i.op === 'HEALTHCHECK')!.args);
      expect(node).toBe('node');
      // Asynchronously: the app answering it runs in this very process.
      const child = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', PORT: String(port) }, stdio: 'ignore' });
      return new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    };

    it('succeeds against a ready app and fails when nothing answers', async () => {
      expect(await probe(h.app.port!)).toBe(0);
      await h.stopApp();
      expect(await probe(h.app.port!)).toBe(1);
    });
  });
});

describe('compose.yaml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as {
    services: Record<string, { build?: string; image?: string; environment?: Record<string, string>; env_file?: string; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] } }>;
    volumes?: Record<string, unknown>;
  };

  it('runs the app from this Dockerfile against the PostgreSQL service, once it is healthy', () => {
    const { app, postgres } = compose.services;
    expect(app?.build).toBe('.');
    expect(postgres?.image).toMatch(/^postgres:\d+/);
    expect(app?.depends_on?.['postgres']?.condition).toBe('service_healthy');
    expect(postgres?.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(app?.env_file).toBe('.env');
    expect(existsSync(join(ROOT, '.env.sample'))).toBe(true);
    expect(app?.ports).toContain('3000:3000');
    expect(app?.environment?.['PORT']).toBe('3000');
  });

  it("gives the app a DATABASE_URL the app's own validation accepts, pointing at the postgres service", () => {
    const { app, postgres } = compose.services;
    // Compose substitutes ${POSTGRES_PASSWORD:-agent}; take the default as compose would.
    const url = app!.environment!['DATABASE_URL']!.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name: string, dflt: string) => dflt);
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's', DATABASE_URL: url });
    const parsed = new URL(config.databaseUrl!);
    expect(parsed.hostname).toBe('postgres');
    expect(parsed.username).toBe(postgres!.environment!['POSTGRES_USER']);
    expect(parsed.pathname).toBe(`/${postgres!.environment!['POSTGRES_DB']}`);
    expect(postgres!.environment!['POSTGRES_PASSWORD']).toContain('agent');
    expect(Object.keys(compose.volumes ?? {})).toContain('pgdata');
  });
});
