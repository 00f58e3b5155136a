/**
 * The production build: `npm start` (scripts/launch.mjs) builds dist/ when it is missing or older than
 * the sources, then runs the compiled app, which finds its migrations in dist/; the operator scripts run
 * compiled the same way. The real build runs once, in a copy of the project, so this checkout's dist/ is
 * left alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staleReason, STAMP } from '../scripts/build.mjs';
import { openDatabase } from '../src/db/connection.js';
import { startFakeClaude, textReply, toolUseReply, type FakeClaude } from './helpers/fakeClaude.js';
import { startFakeSlack, type FakeSlack } from './helpers/fakeSlack.js';
import { blockAction, slashCommand } from './helpers/slackRequests.js';
import { startSmtpServer, type SmtpTestServer } from './helpers/smtpServer.js';
import { waitUntil } from './helpers/testApp.js';
import { APP_NODE_FLAGS, BUNDLES } from '../scripts/build.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

describe('when dist/ is stale', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-stale-'));
    for (const d of ['src/agent', 'db/migrations', 'scripts']) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['src/main.ts', 'src/agent/engine.ts', 'db/migrations/0001_initial.ts', 'scripts/migrate.ts', 'tsconfig.json', 'tsconfig.build.json']) writeFileSync(join(dir, f), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const at = (path: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(dir, path), t, t);
  };
  /** Everything written long ago, the build a minute ago. */
  const settle = () => {
    for (const p of ['src', 'src/agent', 'src/main.ts', 'src/agent/engine.ts', 'db', 'db/migrations', 'db/migrations/0001_initial.ts', 'scripts', 'scripts/migrate.ts', 'tsconfig.json', 'tsconfig.build.json']) {
      if (existsSync(join(dir, p))) at(p, 3600);
    }
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'dist', STAMP), '');
    at(`dist/${STAMP}`, 60);
  };

  it('is missing, or older than any source file, folder or build setting; otherwise it is used as is', () => {
    expect(staleReason(dir)).toMatch(/has not been built/);
    settle();
    expect(staleReason(dir)).toBeUndefined();
    at('src/agent/engine.ts', 0);
    expect(staleReason(dir)).toBe('src changed since the last build');
    settle();
    at('tsconfig.build.json', 0);
    expect(staleReason(dir)).toBe('tsconfig.build.json changed since the last build');
    settle();
    // A deleted migration changes only its folder's time.
    unlinkSync(join(dir, 'db/migrations/0001_initial.ts'));
    expect(staleReason(dir)).toBe('db changed since the last build');
    settle();
    // Files that are not built (the bench, tests) do not trigger a build.
    writeFileSync(join(dir, 'scripts', 'bench.ts'), '');
    at('scripts', 3600);
    expect(staleReason(dir)).toBeUndefined();
  });
});

describe('npm start on a fresh clone', () => {
  let copy: string;
  let slack: FakeSlack;
  let claude: FakeClaude;
  let smtp: SmtpTestServer;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    slack = await startFakeSlack({ botToken: 'xoxb-test' });
    slack.addUser({ id: 'U_REQ', name: 'alice', real_name: 'Alice Doe', email: 'alice@acme.com' });
    claude = await startFakeClaude();
    smtp = await startSmtpServer();
    copy = mkdtempSync(join(tmpdir(), 'agent-build-'));
    for (const p of ['src', 'db', 'scripts', 'knowledge', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, p), join(copy, p), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await Promise.all([slack.close(), claude.close(), smtp.close()]);
    rmSync(copy, { recursive: true, force: true });
  });

  it('npm scripts run the compiled app through the launcher', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts['build']).toBe('node scripts/build.mjs');
    expect(scripts['start']).toBe(`node ${APP_NODE_FLAGS.join(' ')} scripts/launch.mjs src/main.ts`);
    for (const s of ['migrate', 'index-knowledge', 'export-audit']) expect(scripts[s]).toBe(`node scripts/launch.mjs scripts/${s}.ts`);
  });

  it('builds dist/ first, starts the bundled app on an empty database with its compiled migrations and carries out a run; operator scripts reuse the build', async () => {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const env = {
      PATH: process.env['PATH'] ?? '',
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'secret',
      SLACK_API_URL: slack.url,
      ANTHROPIC_API_KEY: 'sk-test',
      ANTHROPIC_BASE_URL: claude.url,
      SMTP_URL: smtp.url,
      DATABASE_PATH: join(copy, 'data', 'agent.db'),
      KNOWLEDGE_DIR: join(copy, 'knowledge'),
      PORT: String(port),
      LOG_LEVEL: 'silent',
    };
    let stderr = '';
    // What `npm start` runs, without npm: the same command from the same folder.
    child = spawn(process.execPath, ['scripts/launch.mjs', 'src/main.ts'], { cwd: copy, env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitUntil(async () => {
      if (child!.exitCode !== null) throw new Error(`the app exited (${child!.exitCode}): ${stderr}`);
      try {
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    }, 'the compiled app to become healthy', 150_000);
    expect(stderr).toContain('Building dist/ (');
    expect(existsSync(join(copy, 'dist', BUNDLES['src/main.ts']!))).toBe(true);
    // Pure ASCII, so V8 holds the bundle's source with one byte a character (see asciiOnly in scripts/build.mjs).
    const nonAscii = readFileSync(join(copy, 'dist', BUNDLES['src/main.ts']!)).findIndex((b) => b > 0x7f);
    expect(nonAscii).toBe(-1);
    // The migrations it applied are the compiled ones, found next to the compiled code.
    expect(existsSync(join(copy, 'dist', 'db', 'migrations', '0001_initial.js'))).toBe(true);
    const { db } = openDatabase(env.DATABASE_PATH);
    const applied = await db.selectFrom('kysely_migration' as never).select('name' as never).execute();
    await db.destroy();
    expect(applied.map((r) => (r as { name: string }).name)).toContain('0001_initial');

    // A whole run through the bundle: slash command, Claude, an approval card, the click, the mail.
    claude.enqueue(toolUseReply([{ name: 'send_email', input: { to: 'sarah@acme.com', subject: 'Q2', body: 'Revenue grew 12%.' } }]), textReply('Emailed Sarah.'));
    const base = `http://127.0.0.1:${port}`;
    const started = await slashCommand(base, 'secret', { text: 'run email Sarah the Q2 numbers', userId: 'U_REQ', channelId: 'C_TASKS', responseUrl: slack.responseUrl({ channel: 'C_TASKS', userId: 'U_REQ' }) });
    expect(started.status).toBe(200);
    const card = await waitUntil(() => {
      const posted = slack.channelMessages('C_TASKS').flatMap((m) => [m, ...slack.threadReplies('C_TASKS', m.ts)]);
      for (const m of posted) {
        const button = ((m.blocks ?? []) as Array<{ elements?: Array<{ action_id?: string; value?: string }> }>).flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'approval_approve');
        if (button?.value) return { channel: 'C_TASKS', ts: m.ts, value: button.value };
      }
      return undefined;
    }, 'the approval card', 30_000);
    const clicked = await blockAction(base, 'secret', { actionId: 'approval_approve', value: card.value, userId: 'U_REQ', channelId: card.channel, messageTs: card.ts, responseUrl: slack.responseUrl({ channel: card.channel, userId: 'U_REQ', messageTs: card.ts }), message: slack.message(card.channel, card.ts)! });
    expect(clicked.status).toBe(200);
    const [mail] = await smtp.waitForMail(1, 30_000);
    expect(mail!.headers.subject).toBe('Q2');
    await waitUntil(() => slack.calls.some((c) => c.method === 'chat.postMessage' && String(c.args['text']).includes('Emailed Sarah.')) || undefined, 'the final answer', 30_000);
    // Card text written with a non-ASCII dash in the source (escaped in the bundle) reaches Slack as written.
    await waitUntil(() => (JSON.stringify(slack.message(card.channel, card.ts)?.blocks ?? []).includes('*Approved* by <@U_REQ>') ? true : undefined), 'the approved card', 30_000);
    expect(JSON.stringify(slack.message(card.channel, card.ts)!.blocks)).toMatch(/\*Approved\* by <@U_REQ> .* — done/);
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));

    // An operator script on a fresh database: compiled, no rebuild (nothing changed).
    const migrate = spawnSync(process.execPath, ['scripts/launch.mjs', 'scripts/migrate.ts'], { cwd: copy, env: { ...env, DATABASE_PATH: join(copy, 'data', 'other.db') }, encoding: 'utf8', timeout: 60_000 });
    expect(migrate.stderr).not.toContain('Building');
    expect(migrate.status).toBe(0);
    expect(migrate.stdout).toMatch(/^Applied 0001_initial, 0002_action_undo, .* to DATABASE_PATH=/);

    // A source edited after the build: the next start rebuilds first (a broken edit stops it with tsc's message).
    writeFileSync(join(copy, 'src', 'broken.ts'), 'export const x: number = "not a number";\n');
    const broken = spawnSync(process.execPath, ['scripts/launch.mjs', 'scripts/migrate.ts'], { cwd: copy, env, encoding: 'utf8', timeout: 120_000 });
    expect(broken.stderr).toContain('Building dist/ (src changed since the last build)');
    expect(broken.stderr).toContain("Type 'string' is not assignable to type 'number'");
    expect(broken.status).toBe(1);
    // The failed build left the previous one whole.
    expect(existsSync(join(copy, 'dist', BUNDLES['src/main.ts']!))).toBe(true);
  }, 400_000);
});
