import { describe, expect, it } from 'vitest';
import { CATALOG, externalActionType, findActionType, TRUST_MODES } from '../../src/policy/catalog.js';
import { canSetMode, decide, effectiveMode } from '../../src/policy/decide.js';
import type { TrustMode } from '../../src/db/schema.js';

const queue = { warnAt: 3, stopAt: 5 };

describe('decide(): every mode x floor x paused x queue state', () => {
  const floorType = findActionType('send_email')!;
  const plainType = { ...findActionType('set_task_status')!, defaultMode: 'full_auto' as TrustMode };
  const cases: Array<{ type: typeof plainType | undefined; declares: boolean; label: string }> = [
    { type: plainType, declares: false, label: 'regular' },
    { type: plainType, declares: true, label: 'tool declares floor' },
    { type: floorType, declares: false, label: 'catalog floor' },
    { type: undefined, declares: false, label: 'unknown tool' },
  ];
  for (const c of cases) {
    for (const mode of [undefined, ...TRUST_MODES]) {
      for (const paused of [false, true]) {
        for (const pending of [0, 3, 5, 9]) {
          it(`${c.label}, setting ${mode ?? 'default'}, ${paused ? 'paused' : 'active'}, ${pending} pending`, () => {
            const d = decide({ actionType: c.type, toolDeclaresHardFloor: c.declares, workspaceMode: mode, paused, pendingApprovals: pending, queue });
            const floor = !c.type || c.type.hardFloor || c.declares;
            const eff: TrustMode = floor ? 'require_approval' : (mode ?? c.type!.defaultMode);
            const asks = floor || paused || eff === 'require_approval';
            if (!asks) {
              expect(d.kind).toBe(eff === 'auto_notify' ? 'notify' : 'run');
              return;
            }
            if (pending >= queue.stopAt) {
              expect(d).toMatchObject({ kind: 'refuse', reason: 'queue_full' });
              return;
            }
            expect(d.kind).toBe('ask');
            if (d.kind !== 'ask') return;
            expect(d.queueWarning).toBe(pending >= queue.warnAt);
            expect(d.reasons.includes('paused')).toBe(paused);
            if (!c.type) expect(d.reasons).toContain('unknown_tool');
            else if (floor) expect(d.reasons).toContain('hard_floor');
            expect(d.mode).toBe(eff);
          });
        }
      }
    }
  }
});

describe('catalog and hard floor', () => {
  it('the hard-floor actions always require approval and cannot be lowered', () => {
    for (const name of ['send_email', 'send_whatsapp', 'update_deal_stage', 'make_purchase']) {
      const t = findActionType(name)!;
      expect(t.hardFloor).toBe(true);
      for (const m of TRUST_MODES) {
        expect(effectiveMode({ actionType: t, toolDeclaresHardFloor: false, workspaceMode: m })).toBe('require_approval');
        expect(canSetMode(t, m)).toBe(m === 'require_approval');
      }
    }
  });

  it('defaults follow the rule of thumb', () => {
    const mode = (n: string) => findActionType(n)!.defaultMode;
    expect(mode('search_knowledge_base')).toBe('full_auto');
    expect(mode('fetch_url')).toBe('full_auto');
    expect(mode('comment_on_task')).toBe('full_auto');
    expect(mode('pause_schedule')).toBe('auto_notify');
    expect(mode('schedule_run')).toBe('require_approval');
    expect(CATALOG.filter((a) => a.category === 'communicate').every((a) => a.defaultMode === 'require_approval')).toBe(true);
  });

  it('unknown tools default to require_approval', () => {
    expect(effectiveMode({ actionType: undefined, toolDeclaresHardFloor: false, workspaceMode: 'full_auto' })).toBe('require_approval');
  });
});

describe('external (MCP) tools and changed definitions', () => {
  it('a changed definition asks whatever the setting, with its own reason; pause adds to it', () => {
    const ext = externalActionType('tickets__search', 'full_auto', 'Tool search of the MCP server tickets');
    for (const mode of [undefined, ...TRUST_MODES]) {
      const d = decide({ actionType: ext, toolDeclaresHardFloor: false, workspaceMode: mode, definitionChanged: true, paused: false, pendingApprovals: 0, queue });
      expect(d).toMatchObject({ kind: 'ask', mode: 'require_approval', reasons: ['definition_changed'] });
    }
    expect(decide({ actionType: ext, toolDeclaresHardFloor: false, workspaceMode: undefined, definitionChanged: false, paused: false, pendingApprovals: 0, queue })).toEqual({ kind: 'run', mode: 'full_auto' });
    expect(decide({ actionType: ext, toolDeclaresHardFloor: false, workspaceMode: 'auto_notify', paused: false, pendingApprovals: 0, queue })).toEqual({ kind: 'notify', mode: 'auto_notify' });
    expect(decide({ actionType: ext, toolDeclaresHardFloor: false, workspaceMode: 'full_auto', definitionChanged: true, paused: true, pendingApprovals: 0, queue })).toMatchObject({ reasons: ['definition_changed', 'paused'] });
  });
});
