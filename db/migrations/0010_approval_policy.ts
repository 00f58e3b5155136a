import type { Kysely } from 'kysely';

// Frozen once landed. Approval policy over time, per action type and per waiting call:
// - `approval_rules`: what an admin set for an action type (how many distinct approvers, a reminder delay
//   with an optional backup group, an expiry). Absent row or null field: off.
// - `action_policies`: the rule as it was when a call started waiting, with its due times, so a timer
//   survives restarts and a rule changed later does not move a card's deadline. `*_at` columns are
//   ISO-8601 text from the app's clock; a due time is cleared once handled.
// - `action_approvals`: one row per person who approved a call needing several approvers, for the exact
//   call (input hash) they saw. The primary key makes a second click by the same person count once.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('approval_rules')
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('action_type', 'text', (c) => c.notNull())
    .addColumn('approvals', 'integer')
    .addColumn('remind_after_s', 'integer')
    .addColumn('escalate_json', 'text')
    .addColumn('expire_after_s', 'integer')
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('approval_rules_pk', ['team_id', 'action_type'])
    .execute();

  await db.schema
    .createTable('action_policies')
    .addColumn('action_id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('approvals_required', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('remind_at', 'text')
    .addColumn('reminded_at', 'text')
    .addColumn('escalate_json', 'text')
    .addColumn('escalated_at', 'text')
    .addColumn('expire_at', 'text')
    .addColumn('expire_after_s', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  // The timer task looks for due rows every second.
  await db.schema.createIndex('action_policies_remind_at').on('action_policies').column('remind_at').execute();
  await db.schema.createIndex('action_policies_expire_at').on('action_policies').column('expire_at').execute();

  await db.schema
    .createTable('action_approvals')
    .addColumn('action_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('input_hash', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('action_approvals_pk', ['action_id', 'user_id', 'input_hash'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('action_approvals').execute();
  await db.schema.dropIndex('action_policies_expire_at').execute();
  await db.schema.dropIndex('action_policies_remind_at').execute();
  await db.schema.dropTable('action_policies').execute();
  await db.schema.dropTable('approval_rules').execute();
}
