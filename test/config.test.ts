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
  it('npm start without credentials exits non-zero with one message naming what to set', () => {
    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: new URL('..', import.meta.url).pathname, env, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Cannot start: the environment is incomplete or invalid.');
    expect(r.stderr).toContain('SLACK_BOT_TOKEN');
    expect(r.stderr).toContain('ANTHROPIC_API_KEY');
  });
});
