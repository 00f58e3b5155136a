import { describe, expect, it } from 'vitest';
import { parseAgentCommand } from '../../src/slack/commandParser.js';

describe('parseAgentCommand', () => {
  it('parses run with the whole task text', () => {
    expect(parseAgentCommand('run email Sarah  the Q2 summary')).toEqual({ kind: 'run', task: 'email Sarah  the Q2 summary' });
  });
  it('accepts run ids in any subcommand and lowercases them', () => {
    expect(parseAgentCommand('log R-7K3QX9')).toEqual({ kind: 'log', runId: 'r-7k3qx9' });
    expect(parseAgentCommand('status r-7k3qx9')).toEqual({ kind: 'status', runId: 'r-7k3qx9' });
    expect(parseAgentCommand('cancel r-7k3qx9')).toEqual({ kind: 'cancel', runId: 'r-7k3qx9' });
    expect(parseAgentCommand('rerun r-7k3qx9 use the new deck')).toEqual({ kind: 'rerun', runId: 'r-7k3qx9', extra: 'use the new deck' });
  });
  it('answers bad input with help and a reason', () => {
    for (const t of ['', '   ', 'run', 'log', 'log 7k3qx9', 'cancel r-1', 'whatever']) {
      const c = parseAgentCommand(t);
      expect(c.kind).toBe('help');
    }
    expect(parseAgentCommand('log abc')).toMatchObject({ problem: expect.stringContaining('is not a run id') });
    expect(parseAgentCommand('run ' + 'x'.repeat(5000))).toMatchObject({ kind: 'help', problem: expect.stringContaining('limit') });
  });
});
