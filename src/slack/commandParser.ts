import { RUN_ID_PATTERN } from '../ids.js';
import { code } from '../text/mrkdwn.js';

/**
 * `/agent ...` parsed into what the person asked for. Pure, so every odd input can be tested. Problems are
 * mrkdwn: whatever the person typed is escaped when it is echoed back.
 */
export type AgentCommand =
  | { kind: 'run'; task: string }
  | { kind: 'status'; runId?: string }
  | { kind: 'log'; runId: string }
  | { kind: 'cancel'; runId: string }
  | { kind: 'rerun'; runId: string; extra: string }
  | { kind: 'trust'; args: string[] }
  | { kind: 'pause'; reason: string }
  | { kind: 'unpause' }
  | { kind: 'caps'; args: string[] }
  | { kind: 'disable'; reason: string }
  | { kind: 'enable' }
  | { kind: 'schedules' }
  | { kind: 'tools'; args: string[] }
  | { kind: 'help'; problem?: string };

const MAX_TASK_CHARS = 4000;

export function parseAgentCommand(raw: string): AgentCommand {
  const text = raw.trim();
  if (!text) return { kind: 'help', problem: 'Tell me what to do, for example `/agent run summarise the Q2 report`.' };
  const [head = '', ...restWords] = text.split(/\s+/);
  const sub = head.toLowerCase();
  const rest = text.slice(head.length).trim();
  const runIdArg = (usage: string): { runId: string } | { problem: string } => {
    const id = restWords[0]?.toLowerCase();
    if (!id) return { problem: `Which run? Usage: ${code(usage).value}` };
    if (!RUN_ID_PATTERN.test(id)) return { problem: `${code(restWords[0] ?? '').value} is not a run id (they look like \`r-7k3qx9\`). Usage: ${code(usage).value}` };
    return { runId: id };
  };
  switch (sub) {
    case 'run':
      if (!rest) return { kind: 'help', problem: 'What should the agent do? Usage: `/agent run &lt;task&gt;`' };
      if (rest.length > MAX_TASK_CHARS) return { kind: 'help', problem: `That task is ${rest.length} characters; the limit is ${MAX_TASK_CHARS}.` };
      return { kind: 'run', task: rest };
    case 'status': {
      if (!restWords[0]) return { kind: 'status' };
      const r = runIdArg('/agent status [run-id]');
      return 'problem' in r ? { kind: 'help', problem: r.problem } : { kind: 'status', runId: r.runId };
    }
    case 'log': {
      const r = runIdArg('/agent log <run-id>');
      return 'problem' in r ? { kind: 'help', problem: r.problem } : { kind: 'log', runId: r.runId };
    }
    case 'cancel': {
      const r = runIdArg('/agent cancel <run-id>');
      return 'problem' in r ? { kind: 'help', problem: r.problem } : { kind: 'cancel', runId: r.runId };
    }
    case 'rerun': {
      const r = runIdArg('/agent rerun <run-id> [extra context]');
      return 'problem' in r ? { kind: 'help', problem: r.problem } : { kind: 'rerun', runId: r.runId, extra: restWords.slice(1).join(' ') };
    }
    case 'trust':
      return { kind: 'trust', args: restWords };
    case 'pause':
      return { kind: 'pause', reason: rest };
    case 'unpause':
      return { kind: 'unpause' };
    case 'caps':
      return { kind: 'caps', args: restWords };
    case 'disable':
      return { kind: 'disable', reason: rest };
    case 'enable':
      return { kind: 'enable' };
    case 'schedules':
      return { kind: 'schedules' };
    case 'tools':
      return { kind: 'tools', args: restWords };
    case 'help':
      return { kind: 'help' };
    default:
      return { kind: 'help', problem: `I don't know ${code(head).value}.` };
  }
}
