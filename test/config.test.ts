import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { loadConfig, loadDatabaseSettings } from '../src/config.js';
import { databaseTarget, describeDatabase } from '../src/db/connection.js';

describe('config', () => {
  it('lists every missing variable in one message', () => {
    expect(() => loadConfig({})).toThrow(/SLACK_BOT_TOKEN[\s\S]*ANTHROPIC_API_KEY[\s\S]*SLACK_SIGNING_SECRET/);
  });
  it('reports invalid values', () => {
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'nope', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's', PORT: 'abc', ADMIN_USER_IDS: 'bob', APPROVALS_CHANNEL: '#general' })).toThrow(
      /SLACK_BOT_TOKEN must start with xoxb-[\s\S]*PORT[\s\S]*APPROVALS_CHANNEL[\s\S]*ADMIN_USER_IDS/,
    );
  });
  it('applies the contract defaults', () => {
    const c = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' });
    expect(c.slack.port).toBe(3000);
    expect(c.anthropic.model).toBe('claude-sonnet-5-5');
    expect(c.databasePath).toBe('./data/agent.db');
    expect(c.knowledgeDir).toBe('./knowledge');
    expect(c.caps.runUsd).toBe(0.5);
    expect(c.queue).toEqual({ warnAt: 100, stopAt: 500 });
    expect(c.adminUserIds).toEqual([]);
  });
  it('DATABASE_URL selects PostgreSQL; without it SQLite at DATABASE_PATH', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' };
    expect(databaseTarget(loadConfig(base))).toEqual({ engine: 'sqlite', path: './data/agent.db' });
    expect(databaseTarget(loadConfig({ ...base, DATABASE_URL: '  ', DATABASE_PATH: '/srv/a.db' }))).toEqual({ engine: 'sqlite', path: '/srv/a.db' });
    for (const url of ['postgres://agent:pw@db:5432/agent', 'postgresql://db/agent?sslmode=require']) {
      expect(databaseTarget(loadConfig({ ...base, DATABASE_URL: url }))).toEqual({ engine: 'postgres', url });
    }
    for (const bad of ['mysql://db/agent', 'db:5432/agent', 'postgres://', 'sqlite:///tmp/a.db']) {
      expect(() => loadConfig({ ...base, DATABASE_URL: bad }), bad).toThrow(/DATABASE_URL must be a postgres:\/\/user:password@host:5432\/database URL/);
      expect(() => loadDatabaseSettings({ DATABASE_URL: bad }), bad).toThrow(/DATABASE_URL must be a postgres:\/\//);
    }
    expect(loadDatabaseSettings({})).toEqual({ databasePath: './data/agent.db', databaseUrl: undefined });
  });
  it('RUN_LEASE_SECONDS: 30 by default, a whole number of seconds between 2 and 3600', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' };
    expect(loadConfig(base).runLeaseSeconds).toBe(30);
    expect(loadConfig({ ...base, RUN_LEASE_SECONDS: ' ' }).runLeaseSeconds).toBe(30);
    expect(loadConfig({ ...base, RUN_LEASE_SECONDS: '5' }).runLeaseSeconds).toBe(5);
    expect(() => loadConfig({ ...base, RUN_LEASE_SECONDS: '1' })).toThrow(/RUN_LEASE_SECONDS must be at least 2/);
    expect(() => loadConfig({ ...base, RUN_LEASE_SECONDS: '2.5' })).toThrow(/RUN_LEASE_SECONDS must be a whole number of seconds/);
    expect(() => loadConfig({ ...base, RUN_LEASE_SECONDS: 'soon' })).toThrow(/RUN_LEASE_SECONDS must be a whole number of seconds/);
    expect(() => loadConfig({ ...base, RUN_LEASE_SECONDS: '86400' })).toThrow(/RUN_LEASE_SECONDS must be at most 3600/);
  });
  it('names the database in messages without its password', () => {
    expect(describeDatabase({ engine: 'postgres', url: 'postgres://agent:s3cret@db:5432/agent' })).toBe('DATABASE_URL=postgres://agent:***@db:5432/agent');
    expect(describeDatabase({ engine: 'postgres', url: 'postgres://agent@db/agent' })).toBe('DATABASE_URL=postgres://agent@db/agent');
    expect(describeDatabase({ engine: 'sqlite', path: './data/agent.db' })).toBe('DATABASE_PATH=./data/agent.db');
  });
  it('METRICS_PORT is off by default, a port when set, and never PORT itself', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' };
    expect(loadConfig(base).metricsPort).toBeUndefined();
    expect(loadConfig({ ...base, METRICS_PORT: '' }).metricsPort).toBeUndefined();
    expect(loadConfig({ ...base, METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    for (const bad of ['abc', '70000', '-1', '94.5']) expect(() => loadConfig({ ...base, METRICS_PORT: bad }), bad).toThrow(/METRICS_PORT must be a port number/);
    expect(() => loadConfig({ ...base, METRICS_PORT: '3000' })).toThrow(/METRICS_PORT must differ from PORT/);
    expect(() => loadConfig({ ...base, PORT: '8080', METRICS_PORT: '8080' })).toThrow(/METRICS_PORT must differ from PORT/);
    expect(loadConfig({ ...base, PORT: '8080', METRICS_PORT: '3000' }).metricsPort).toBe(3000);
  });
  it('Socket Mode does not need a signing secret', () => {
    const c = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_APP_TOKEN: 'xapp-1', ADMIN_USER_IDS: 'U01AB, U02CD' });
    expect(c.slack.appToken).toBe('xapp-1');
    expect(c.adminUserIds).toEqual(['U01AB', 'U02CD']);
  });
  describe('Slack credentials: one bot token, or OAuth installs', () => {
    const base = { ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' };
    const key = Buffer.alloc(32, 1).toString('base64');
    const oauth = { SLACK_CLIENT_ID: '1234567890.0987654321', SLACK_CLIENT_SECRET: 'cs', SLACK_STATE_SECRET: 'a-long-random-state-secret', SLACK_TOKEN_ENCRYPTION_KEY: key };
    const problem = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected the configuration to be refused');
    };

    it('takes the OAuth variables instead of SLACK_BOT_TOKEN', () => {
      const c = loadConfig({ ...base, ...oauth });
      expect(c.slack.botToken).toBeUndefined();
      expect(c.slack.oauth).toMatchObject({ clientId: '1234567890.0987654321', clientSecret: 'cs', stateSecret: 'a-long-random-state-secret' });
      expect(c.slack.oauth?.tokenEncryptionKey).toEqual(Buffer.alloc(32, 1));
      expect(loadConfig({ ...base, SLACK_BOT_TOKEN: 'xoxb-1' }).slack.oauth).toBeUndefined();
    });

    it('names the alternatives when neither is set, first in the message', () => {
      const msg = problem({ ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' });
      expect(msg.split('\n')[1]).toBe('  - SLACK_BOT_TOKEN is required (the bot token, xoxb-...), or set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_STATE_SECRET and SLACK_TOKEN_ENCRYPTION_KEY to install into many workspaces (OAuth)');
    });

    it('refuses an incomplete or mixed setup, with every problem in one message', () => {
      expect(problem({ ...base, SLACK_CLIENT_ID: oauth.SLACK_CLIENT_ID })).toContain('SLACK_CLIENT_SECRET, SLACK_STATE_SECRET are required with SLACK_CLIENT_ID');
      const noKey = problem({ ...base, ...oauth, SLACK_TOKEN_ENCRYPTION_KEY: '' });
      expect(noKey).toContain('SLACK_TOKEN_ENCRYPTION_KEY is required with OAuth installs');
      for (const bad of ['short', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64'), `${key.slice(0, -2)}!=`]) {
        expect(problem({ ...base, ...oauth, SLACK_TOKEN_ENCRYPTION_KEY: bad }), bad).toContain('SLACK_TOKEN_ENCRYPTION_KEY must be 32 random bytes in base64');
      }
      const mixed = problem({ ...base, ...oauth, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', APPROVALS_CHANNEL: 'C0123ABCD', SLACK_STATE_SECRET: 'short' });
      expect(mixed).toContain('SLACK_BOT_TOKEN must not be set together with the OAuth variables');
      expect(mixed).toContain('SLACK_APP_TOKEN (Socket Mode) cannot be combined with OAuth installs');
      expect(mixed).toContain('APPROVALS_CHANNEL cannot be used with OAuth installs');
      expect(mixed).toContain('SLACK_STATE_SECRET must be at least 16 characters');
      expect(problem({ ...base, ...oauth, SLACK_CLIENT_ID: 'abc' })).toContain("SLACK_CLIENT_ID must be the app's Client ID");
    });
  });

  it('npm start without credentials exits non-zero with one message naming what to set', () => {
    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: new URL('..', import.meta.url).pathname, env, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Cannot start: the environment is incomplete or invalid.');
    expect(r.stderr).toContain('SLACK_BOT_TOKEN');
    expect(r.stderr).toContain('ANTHROPIC_API_KEY');
  });
});
