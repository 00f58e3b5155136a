import type { DiscoveryReport, McpOverview, McpServerView, McpToolRow } from '../../agent/mcpTools.js';
import { clipped, code, dateRef, md, mention, trusted, type Mrkdwn } from '../../text/mrkdwn.js';
import { context, section } from './text.js';

const MODE_LABEL = { require_approval: ':raised_hand: require_approval', auto_notify: ':bell: auto_notify', full_auto: ':white_check_mark: full_auto' } as const;
/** Slack allows 50 blocks per message; a few are kept for the header and the footer. */
const MAX_SECTIONS = 44;
const SECTION_CHARS = 2900;

function serverHeading(s: McpServerView): Mrkdwn {
  const when = s.checkedAt ? md` · checked ${dateRef(s.checkedAt)}` : trusted('');
  if (s.state === 'connected') {
    return md`:large_green_circle: *${s.name}* — connected, ${s.toolNames.length} tool${s.toolNames.length === 1 ? '' : 's'} · ${s.url}${when}`;
  }
  if (s.state === 'disabled') return md`:white_circle: *${s.name}* — disabled (${s.why ?? ''}) · ${s.url}`;
  return md`:red_circle: *${s.name}* — *unavailable*: ${clipped(s.why ?? 'unknown reason', 400)} · ${s.url}${when}. Its tools are not offered until \`/agent tools refresh\` finds it.`;
}

function toolLines(t: McpToolRow): Mrkdwn[] {
  const lines = [
    md`• ${code(t.name)} — ${trusted(MODE_LABEL[t.mode])} — ${clipped(t.why, 300)}${t.setBy && !t.drift ? md` (${mention(t.setBy)})` : ''}`,
    md`      ${t.remoteName !== t.name.slice(t.name.indexOf('__') + 2) ? md`server name ${code(t.remoteName)}: ` : ''}${clipped(t.description || '(no description)', 200)}`,
  ];
  if (t.drift) {
    lines.push(
      md`      :warning: *Changed* since ${t.drift.trustedBy ? mention(t.drift.trustedBy) : trusted('an admin')} trusted it${t.drift.trustedAt ? md` ${dateRef(t.drift.trustedAt)}` : ''}: ${clipped(t.drift.changes.join('; '), 900)}. Accept with ${code(`/agent tools accept ${t.name}`)}.`,
    );
  }
  return lines;
}

/** Packs lines into sections under Slack's size limit. */
function pack(lines: Mrkdwn[]): string[] {
  const out: string[] = [];
  let current = '';
  for (const l of lines) {
    if (current && current.length + 1 + l.value.length > SECTION_CHARS) {
      out.push(current);
      current = '';
    }
    current = current ? `${current}\n${l.value}` : l.value;
  }
  if (current) out.push(current);
  return out;
}

/** `/agent tools`: the MCP servers, their state, their tools and each tool's mode in this workspace, and why. */
export function renderTools(o: McpOverview): { text: string; blocks: Record<string, unknown>[] } {
  const head = [md`*Tools* — built in: ${trusted(o.builtIn.map((n) => code(n).value).join(', ') || 'none')} (their modes: \`/agent trust\`)`];
  if (!o.configured) {
    head.push(trusted('*MCP servers:* none configured. Set `MCP_CONFIG` to a JSON file that lists them (see docs/connectors.md) and restart.'));
    return { text: 'Tools', blocks: [section(trusted(head.map((h) => h.value).join('\n')))] };
  }
  head.push(md`*MCP servers* (from ${code(o.configPath ?? '')}): ${o.servers.filter((s) => s.state === 'connected').length} connected, ${o.servers.filter((s) => s.state === 'unavailable').length} unavailable`);
  if (o.configProblems.length) {
    head.push(md`:warning: The last refresh found problems in MCP_CONFIG, so the servers below are from the last valid file: ${clipped(o.configProblems.join('; '), 1200)}`);
  }
  const lines: Mrkdwn[] = [];
  for (const s of o.servers) {
    lines.push(trusted(''), serverHeading(s));
    if (s.serverMode) lines.push(md`Server-wide setting ${code(`${s.name}__*`)}: ${trusted(MODE_LABEL[s.serverMode])} (tools with their own setting keep it)`);
    for (const t of s.tools) lines.push(...toolLines(t));
    for (const k of s.skipped) lines.push(md`• not offered: ${code(k.tool)} — ${clipped(k.why, 300)}`);
  }
  const sections = pack(lines);
  const blocks: Record<string, unknown>[] = [section(trusted(head.map((h) => h.value).join('\n')))];
  for (const sec of sections.slice(0, MAX_SECTIONS)) blocks.push(section(trusted(sec)));
  if (sections.length > MAX_SECTIONS) blocks.push(context(`${sections.length - MAX_SECTIONS} more sections are not shown here: Slack limits the size of one message.`));
  blocks.push(
    context(
      'Modes of MCP tools come from their server\'s annotations (read-only and not destructive: `full_auto`; anything else: `require_approval`) until an admin sets one. Admins: `/agent tools refresh` · `/agent tools accept &lt;server&gt;__&lt;tool&gt;|&lt;server&gt;__*` · `/agent trust &lt;server&gt;__&lt;tool&gt; &lt;mode&gt;` · `/agent trust &lt;server&gt;__* &lt;mode&gt;`',
    ),
  );
  return { text: 'Tools and MCP servers', blocks };
}

/** The answer to `/agent tools refresh`: each server's state and what changed. */
export function renderRefresh(r: DiscoveryReport): string {
  const lines = [':arrows_counterclockwise: *MCP tools listed again.*'];
  if (r.configProblems.length) lines.push(md`:warning: MCP_CONFIG has problems; the previous servers are kept: ${clipped(r.configProblems.join('; '), 1500)}`.value);
  for (const s of r.servers) {
    const state = s.state === 'connected' ? `connected, ${s.tools} tool${s.tools === 1 ? '' : 's'}` : s.state === 'disabled' ? 'disabled' : md`*unavailable*: ${clipped(s.why ?? '', 300)}`.value;
    const changes = [
      s.added.length ? `new: ${s.added.map((n) => code(n).value).join(', ')}` : '',
      s.removed.length ? `gone: ${s.removed.map((n) => code(n).value).join(', ')}` : '',
      s.changed.length ? `changed definition: ${s.changed.map((n) => code(n).value).join(', ')}` : '',
    ].filter(Boolean);
    lines.push(`• ${code(s.name).value} — ${state}${changes.length ? ` · ${changes.join(' · ')}` : ''}`);
  }
  if (r.servers.length === 0) lines.push('No servers in MCP_CONFIG.');
  lines.push('`/agent tools` shows each tool and its mode.');
  return lines.join('\n');
}
