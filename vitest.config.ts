import { defineConfig } from 'vitest/config';

// Test files that never open a database: they run once. Every other file runs twice, against SQLite and
// against a real PostgreSQL server, so a new test that touches the database is covered on both by default.
const DATABASE_FREE = [
  'test/helpers/fakeSlackHome.test.ts',
  'test/slack/homeBlocks.test.ts',
  'test/agent/editChoices.test.ts',
  'test/helpers/fakeConnectors.test.ts',
  'test/agent/cron.test.ts',
  'test/db/sqliteCheckpoint.test.ts',
  'test/agent/pricing.test.ts',
  'test/agent/promptCache.test.ts',
  'test/bench/instances.test.ts',
  'test/build.test.ts',
  'test/config.test.ts',
  'test/container.test.ts',
  'test/docs.test.ts',
  'test/connectors/hubspot.test.ts',
  'test/connectors/mcpConnection.test.ts',
  'test/connectors/safeFetch.test.ts',
  'test/connectors/smtp.test.ts',
  'test/connectors/whatsapp.test.ts',
  'test/helpers/helpers.test.ts',
  'test/helpers/fakeSlackLimits.test.ts',
  'test/helpers/fakeSlackHistory.test.ts',
  'test/helpers/fakeSlackOAuth.test.ts',
  'test/helpers/fakeSocketMode.test.ts',
  'test/helpers/fakeClaudeCache.test.ts',
  'test/policy/decide.test.ts',
  'test/slack/clients.test.ts',
  'test/slack/commandParser.test.ts',
  'test/slack/oauthPieces.test.ts',
  'test/slack/manifest.test.ts',
  'test/slack/pacer.test.ts',
  'test/tools/fetchUrl.test.ts',
  'test/tools/mcpTool.test.ts',
  'test/tools/sendEmail.test.ts',
  'test/tools/whatsappAndCrm.test.ts',
];

export default defineConfig({
  test: {
    // Integration tests start real HTTP servers and databases; keep files isolated but not too parallel
    // for a 2-core CI machine. The two projects share these workers.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/**/*.test.ts'],
          env: { TEST_DATABASE_ENGINE: 'sqlite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: DATABASE_FREE,
          env: { TEST_DATABASE_ENGINE: 'postgres' },
          // Starts a throwaway cluster (or uses TEST_DATABASE_URL); each test creates its own database.
          globalSetup: ['test/setup/postgres.ts'],
        },
      },
    ],
  },
});
