import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminCheck } from '../../src/agent/admins.js';
import { TrustService } from '../../src/agent/trust.js';
import { TrustSuggestions } from '../../src/agent/trustSuggestions.js';
import type { Db, OpenedDatabase } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { isAppError } from '../../src/errors.js';
import { renderTrustSuggestions } from '../../src/slack/blocks/trustSuggestions.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import type { ToolDefinition } from '../../src/tools/types.js';
import { saveApprovalRule } from '../../src/db/repos/approvalRules.js';
import { decided, seedRun } from '../helpers/decisionHistory.js';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from '../helpers/testDatabase.js';

const DAY = 86_400_000;
const TEAM = 'T1';
const ADMIN = 'U0ADMIN';

function customTool(name: string, hardFloor: boolean): ToolDefinition {
  return {
    name,
    description: name,
    inputSchema: z.object({}),
    ...(hardFloor ? { hardFloor: true } : {}),
    describe: () => ({ summary: name, details: [] }) as never,
    run: async () => ({ content: 'ok' }) as never,
  };
}

describe(`trust suggestions (App Home list, quiet periods) on ${TEST_ENGINE}`, () => {
  let tmp: string;
  let testDb: TestDatabase;
  let opened: OpenedDatabase;
  let db: Db;
  let now: Date;
  let suggestions: TrustSuggestions;

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'suggest-'));
    testDb = await createTestDatabase(tmp);
    opened = testDb.open();
    db = opened.db;
    await migrateToLatest(db);
    now = new Date('2026-11-20T10:00:00Z');
    const clock = { now: () => now };
    // A custom tool that declares the hard floor, and one that does not (unknown tools ask by default).
    const registry = new ToolRegistry().register(customTool('wire_money', true)).register(customTool('tag_ticket', false));
    const admins = new AdminCheck([ADMIN], { lookup: async () => undefined });
    const trust = new TrustService({ db, clock, admins, registry, groups: { members: async () => [] }, approvalsChannel: undefined });
    suggestions = new TrustSuggestions({ db, clock, trust, admins });
    await seedRun(db, TEAM);
  });

  afterEach(async () => {
    await db.destroy();
    await testDb.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('never suggests a hard-floor tool (the catalog\'s or one that declares it) nor an uncategorised one (it always asks)', async () => {
    await decided(db, TEAM, 'wire_money', 40, new Date(now.getTime() - DAY));
    await decided(db, TEAM, 'tag_ticket', 40, new Date(now.getTime() - DAY));
    await decided(db, TEAM, 'make_purchase', 40, new Date(now.getTime() - DAY));
    await decided(db, TEAM, 'send_whatsapp', 40, new Date(now.getTime() - DAY));
    await decided(db, TEAM, 'delete_schedule', 20, new Date(now.getTime() - DAY));
    expect((await suggestions.list(TEAM)).map((s) => [s.actionType, s.approved])).toEqual([['delete_schedule', 20]]);
  });

  it('never suggests dropping an action type that needs several approvers, and one admin cannot lower it either', async () => {
    await decided(db, TEAM, 'delete_schedule', 30, new Date(now.getTime() - DAY));
    await saveApprovalRule(db, TEAM, { actionType: 'delete_schedule', approvals: 2 }, ADMIN, now.toISOString());
    expect(await suggestions.list(TEAM)).toEqual([]);
    const trust = new TrustService({ db, clock: { now: () => now }, admins: new AdminCheck([ADMIN], { lookup: async () => undefined }), registry: new ToolRegistry(), groups: { members: async () => [] }, approvalsChannel: undefined });
    await expect(trust.setMode(TEAM, ADMIN, 'delete_schedule', 'auto_notify')).rejects.toMatchObject({ code: 'policy_forbids' });
    // Back to one approver: the suggestion holds again and the admin may lower the level.
    await saveApprovalRule(db, TEAM, { actionType: 'delete_schedule' }, ADMIN, now.toISOString());
    expect((await suggestions.list(TEAM)).map((s) => s.actionType)).toEqual(['delete_schedule']);
    await expect(trust.setMode(TEAM, ADMIN, 'delete_schedule', 'auto_notify')).resolves.toMatchObject({ after: 'auto_notify' });
  });

  it('counts decisions per workspace only', async () => {
    await seedRun(db, 'T2');
    await decided(db, TEAM, 'delete_schedule', 12, new Date(now.getTime() - DAY));
    await decided(db, 'T2', 'delete_schedule', 12, new Date(now.getTime() - DAY));
    expect(await suggestions.list(TEAM)).toEqual([]);
  });

  it('App Home keeps showing an open suggestion after a digest offered it; a dismissal hides it for 30 days', async () => {
    await decided(db, TEAM, 'delete_schedule', 25, new Date(now.getTime() - 2 * DAY));
    const first = await suggestions.list(TEAM);
    expect(first.map((s) => s.actionType)).toEqual(['delete_schedule']);
    await suggestions.markOffered(db, TEAM, first);
    expect(await suggestions.forDigest(TEAM)).toEqual([]);
    expect((await suggestions.list(TEAM)).map((s) => s.actionType)).toEqual(['delete_schedule']);

    // The block builder App Home includes: the question and both buttons; nothing at all when empty.
    const { blocks } = renderTrustSuggestions(first);
    expect(JSON.stringify(blocks)).toContain('`delete_schedule`: approved 25 of 25 times, never edited; run it on its own with a notice?');
    expect(blocks.find((b) => b['block_id'] === 'trust_suggestion:delete_schedule')).toMatchObject({ type: 'actions', elements: [{ action_id: 'trust_suggestion_apply' }, { action_id: 'trust_suggestion_dismiss' }] });
    expect(renderTrustSuggestions([]).blocks).toEqual([]);

    // Not an admin: refused, logged, nothing changes.
    const refused = await suggestions.dismiss(TEAM, 'U_SOMEONE', { t: 'delete_schedule', b: first[0]!.basis }).catch((e: unknown) => e);
    expect(isAppError(refused, 'not_allowed')).toBe(true);
    expect((await suggestions.list(TEAM)).map((s) => s.actionType)).toEqual(['delete_schedule']);

    await suggestions.dismiss(TEAM, ADMIN, { t: 'delete_schedule', b: first[0]!.basis });
    expect(await suggestions.list(TEAM)).toEqual([]);
    now = new Date(now.getTime() + 29 * DAY);
    await decided(db, TEAM, 'delete_schedule', 20, new Date(now.getTime() - DAY));
    expect(await suggestions.list(TEAM)).toEqual([]);
    now = new Date(now.getTime() + 2 * DAY);
    expect((await suggestions.list(TEAM)).map((s) => s.actionType)).toEqual(['delete_schedule']);
    expect((await suggestions.forDigest(TEAM)).map((s) => s.actionType)).toEqual(['delete_schedule']);

    const kinds = (await db.selectFrom('activity').select(['kind', 'actor']).where('kind', 'like', 'trust_suggestion_%').orderBy('id').execute()).map((r) => [r.kind, r.actor]);
    expect(kinds).toEqual([
      ['trust_suggestion_refused', 'U_SOMEONE'],
      ['trust_suggestion_dismissed', ADMIN],
    ]);
  });

  it('applying sets auto_notify through the trust service; a hard-floor forged click changes nothing', async () => {
    await decided(db, TEAM, 'delete_schedule', 21, new Date(now.getTime() - DAY));
    const [s] = await suggestions.list(TEAM);
    expect(await suggestions.apply(TEAM, ADMIN, { t: s!.actionType, b: s!.basis })).toEqual({ outcome: 'applied', actionType: 'delete_schedule', before: 'require_approval' });
    expect(await db.selectFrom('trust_settings').select(['action_type', 'mode', 'updated_by']).execute()).toEqual([{ action_type: 'delete_schedule', mode: 'auto_notify', updated_by: ADMIN }]);
    expect(await suggestions.list(TEAM)).toEqual([]);

    // Hand-made buttons for hard-floor tools are stale by definition: nothing is changed.
    expect(await suggestions.apply(TEAM, ADMIN, { t: 'send_email', b: '' })).toEqual({ outcome: 'stale', actionType: 'send_email', mode: 'require_approval' });
    expect(await suggestions.apply(TEAM, ADMIN, { t: 'wire_money', b: '' })).toEqual({ outcome: 'stale', actionType: 'wire_money', mode: 'require_approval' });
    expect(await suggestions.apply(TEAM, ADMIN, { t: 'tag_ticket', b: '' })).toEqual({ outcome: 'stale', actionType: 'tag_ticket', mode: 'require_approval' });
    expect(await db.selectFrom('trust_settings').select('action_type').execute()).toEqual([{ action_type: 'delete_schedule' }]);
  });
});
