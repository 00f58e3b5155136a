import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { displayUrl, loadMcpConfig, type McpConfig, type McpConfigResult, type McpServerConfig } from '../connectors/mcp/config.js';
import { McpConnection } from '../connectors/mcp/connection.js';
import type { Db } from '../db/connection.js';
import { appendActivity } from '../db/repos/activity.js';
import { listAcceptedDefinitions, listAcceptedForTools, markDriftNotified, saveAcceptedDefinition, type AcceptedDefinition } from '../db/repos/mcpDefinitions.js';
import { getTrustModes } from '../db/repos/workspace.js';
import type { TrustMode } from '../db/schema.js';
import { AppError, errorMessage } from '../errors.js';
import { effectiveMode } from '../policy/decide.js';
import type { ExternalModeSource } from '../policy/external.js';
import { code, md, mention, trusted, type Mrkdwn } from '../text/mrkdwn.js';
import { describeDefinitionChange } from '../tools/mcp/definition.js';
import { createMcpTool } from '../tools/mcp/mcpTool.js';
import { isServerPattern, serverOf, serverPattern } from '../tools/mcp/names.js';
import type { ExternalSource, ToolRegistry } from '../tools/registry.js';
import type { ToolDefinition } from '../tools/types.js';
import { actionTypeFor, externalTrustOf } from './externalTrust.js';
import type { Outbox } from './outbox.js';

export interface McpToolsDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  registry: ToolRegistry;
  outbox: Outbox;
  /** MCP_CONFIG and the environment its variables come from; undefined: no MCP servers. */
  config: { path: string; env: Record<string, string | undefined> } | undefined;
  requireAdmin(teamId: string, userId: string, what: string): Promise<void>;
  /** Reads the config file (tests may replace it). */
  loadConfig?: (path: string, env: Record<string, string | undefined>) => McpConfigResult;
}

/** One tool as `/agent tools` shows it in a workspace. */
export interface McpToolRow {
  name: string;
  remoteName: string;
  description: string;
  mode: TrustMode;
  source: ExternalModeSource;
  /** Plain words (untrusted parts inside: rendered escaped). */
  why: string;
  /** Who set the admin mode that applies, when one does. */
  setBy: string | undefined;
  /** Set when the server changed (or added) the tool since an admin trusted it: what changed. */
  drift: { changes: string[]; trustedBy: string | undefined; trustedAt: string | undefined } | undefined;
}

export interface McpServerView extends ExternalSource {
  tools: McpToolRow[];
  /** The server-wide admin mode (`<server>__*`), if set. */
  serverMode: TrustMode | undefined;
}

export interface McpOverview {
  configured: boolean;
  configPath: string | undefined;
  /** Problems of the config file found by the last refresh (the previous servers stay in use). */
  configProblems: string[];
  servers: McpServerView[];
  /** The built-in tools offered (their modes are in `/agent trust`). */
  builtIn: string[];
}

/** What a discovery found, for the admin who asked for it. */
export interface DiscoveryReport {
  configProblems: string[];
  servers: Array<{ name: string; state: ExternalSource['state']; why?: string | undefined; tools: number; added: string[]; removed: string[]; changed: string[] }>;
}

/** Servers whose config is unchanged keep their connection (and the calls in flight on it). */
function connectionKey(s: McpServerConfig): string {
  return JSON.stringify([s.url.href, s.headers, s.timeoutMs, s.connectTimeoutMs]);
}

/**
 * The MCP servers of MCP_CONFIG: lists their tools at startup and on `/agent tools refresh`, offers them
 * through the tool registry, and keeps admins informed (which servers are down and why, which tools
 * changed since they were trusted). A server that is down never stops the app: it has no tools until
 * the next refresh finds it.
 *
 * Discovery state is this process's own (each instance lists the servers itself); what admins decided
 * (modes, accepted definitions) is in the database.
 */
export class McpTools {
  private config: McpConfig | undefined;
  private configProblems: string[] = [];
  private readonly connections = new Map<string, { key: string; connection: McpConnection }>();
  private running: Promise<DiscoveryReport> | undefined;

  constructor(private readonly deps: McpToolsDeps) {}

  get configured(): boolean {
    return this.deps.config !== undefined;
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** Startup: read MCP_CONFIG and list every enabled server's tools (each bounded by its timeout). */
  async start(): Promise<DiscoveryReport> {
    return this.discover();
  }

  /**
   * Reads MCP_CONFIG again and lists every server's tools. One discovery at a time: a second request
   * while one runs gets its answer.
   */
  discover(): Promise<DiscoveryReport> {
    if (!this.running) {
      this.running = this.discoverNow().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async discoverNow(): Promise<DiscoveryReport> {
    const { registry, logger } = this.deps;
    const source = this.deps.config;
    if (!source) return { configProblems: [], servers: [] };
    const loaded = (this.deps.loadConfig ?? loadMcpConfig)(source.path, source.env);
    if (loaded.ok) {
      this.config = loaded.config;
      this.configProblems = [];
    } else {
      // A broken edit of the file must not take working servers away: the last good config stays.
      this.configProblems = loaded.problems;
      logger.warn({ problems: loaded.problems }, 'MCP_CONFIG is invalid; keeping the servers already configured');
    }
    const servers = this.config?.servers ?? [];
    const names = new Set(servers.map((s) => s.name));
    for (const s of registry.sources()) {
      if (s.kind === 'mcp' && !names.has(s.name)) registry.removeSource(s.name);
    }
    for (const [name, c] of this.connections) {
      if (!names.has(name)) {
        this.connections.delete(name);
        void c.connection.close();
      }
    }

    const before = new Map(servers.map((s) => [s.name, new Map(registry.toolsOf(s.name).map((t) => [t.name, t.external?.definitionHash]))]));
    const results = await Promise.all(servers.map((s) => this.discoverServer(s)));
    const report: DiscoveryReport = { configProblems: this.configProblems, servers: [] };
    results.forEach((state, i) => {
      const s = servers[i]!;
      const old = before.get(s.name) ?? new Map<string, string | undefined>();
      const now = new Map(registry.toolsOf(s.name).map((t) => [t.name, t.external?.definitionHash]));
      report.servers.push({
        name: s.name,
        state: state.state,
        why: state.why,
        tools: state.toolNames.length,
        added: [...now.keys()].filter((n) => !old.has(n)),
        removed: state.state === 'connected' ? [...old.keys()].filter((n) => !now.has(n)) : [],
        changed: [...now.keys()].filter((n) => old.has(n) && old.get(n) !== now.get(n)),
      });
      if (state.state === 'unavailable') logger.warn({ server: s.name, url: displayUrl(s.url), why: state.why }, 'MCP server unavailable');
      else logger.info({ server: s.name, state: state.state, tools: state.toolNames.length, skipped: state.skipped.length }, 'MCP server listed');
    });
    try {
      await this.announceDrift();
    } catch (err) {
      logger.error({ err: errorMessage(err) }, 'could not check MCP tools for changed definitions');
    }
    return report;
  }

  private connectionFor(server: McpServerConfig): McpConnection {
    const key = connectionKey(server);
    const existing = this.connections.get(server.name);
    if (existing && existing.key === key) return existing.connection;
    // Settings changed: new calls use a new connection; calls in flight finish on the old one.
    existing?.connection.retire();
    const connection = new McpConnection(server);
    this.connections.set(server.name, { key, connection });
    return connection;
  }

  private async discoverServer(server: McpServerConfig): Promise<ExternalSource> {
    const base = { name: server.name, kind: 'mcp' as const, url: displayUrl(server.url) };
    if (!server.enabled) return this.deps.registry.setSource({ ...base, state: 'disabled', why: '"enabled": false in MCP_CONFIG', checkedAt: this.now() }, []);
    const connection = this.connectionFor(server);
    try {
      const listed = await connection.listTools();
      const tools: ToolDefinition[] = [];
      const skipped: ExternalSource['skipped'] = [];
      for (const t of listed) {
        try {
          tools.push(createMcpTool(server.name, t, connection));
        } catch (err) {
          skipped.push({ tool: t.name, why: `its input schema cannot be used (${errorMessage(err).slice(0, 200)})` });
        }
      }
      return this.deps.registry.setSource({ ...base, state: 'connected', checkedAt: this.now(), skipped }, tools);
    } catch (err) {
      return this.deps.registry.setSource({ ...base, state: 'unavailable', why: errorMessage(err), checkedAt: this.now() }, []);
    }
  }

  /** `/agent tools refresh`: admins only; lists every server again and says what changed. */
  async refresh(teamId: string, userId: string): Promise<DiscoveryReport> {
    await this.deps.requireAdmin(teamId, userId, 'refresh the MCP tools');
    if (!this.configured) throw new AppError('bad_command', 'No MCP servers are configured: set MCP_CONFIG to the path of a server file (see docs/connectors.md) and restart.');
    const report = await this.discover();
    await appendActivity(this.deps.db, {
      at: this.now(),
      teamId,
      actor: userId,
      kind: 'mcp_tools_refreshed',
      detail: { servers: report.servers.map((s) => ({ name: s.name, state: s.state, tools: s.tools, added: s.added, removed: s.removed, changed: s.changed })), configProblems: report.configProblems },
    });
    return report;
  }

  /**
   * `/agent tools accept <server>__<tool>|<server>__*`: an admin trusts the definition the server offers
   * now, so a mode set earlier applies again. Returns the tools accepted.
   */
  async accept(teamId: string, userId: string, target: string): Promise<string[]> {
    await this.deps.requireAdmin(teamId, userId, 'accept MCP tool definitions');
    const tools = this.toolsMatching(target);
    const at = this.now();
    await this.deps.db.transaction().execute(async (trx) => {
      for (const t of tools) {
        const ext = t.external!;
        await saveAcceptedDefinition(trx, { teamId, tool: t.name, hash: ext.definitionHash, definition: ext.definition, by: userId, at });
      }
      await appendActivity(trx, { at, teamId, actor: userId, kind: 'mcp_tool_accepted', detail: { target, tools: tools.map((t) => ({ name: t.name, hash: t.external!.definitionHash })) } });
    });
    return tools.map((t) => t.name);
  }

  /** The MCP tools a name or `<server>__*` pattern stands for now; an error says what exists. */
  toolsMatching(target: string): ToolDefinition[] {
    const { registry } = this.deps;
    if (isServerPattern(target)) {
      const server = serverOf(target)!;
      const source = registry.source(server);
      if (!source) throw new AppError('bad_command', `${code(server).value} is not an MCP server in MCP_CONFIG.${this.knownServers()}`);
      const tools = registry.toolsOf(server);
      if (tools.length === 0) throw new AppError('bad_command', `The MCP server ${code(server).value} offers no tools right now (${source.state}${source.why ? md`: ${source.why}`.value : ''}).`);
      return tools;
    }
    const tool = registry.get(target);
    if (!tool?.external) throw new AppError('bad_command', `${code(target).value} is not an MCP tool offered right now. \`/agent tools\` lists them.`);
    return [tool];
  }

  private knownServers(): string {
    const names = this.deps.registry.sources().filter((s) => s.kind === 'mcp').map((s) => code(s.name).value);
    return names.length ? ` Known: ${names.join(', ')}.` : '';
  }

  /** `/agent tools`: every server, its state, its tools and each tool's mode in this workspace, and why. */
  async overview(teamId: string): Promise<McpOverview> {
    const { db, registry } = this.deps;
    const sources = registry.sources().filter((s) => s.kind === 'mcp');
    const [modes, accepted, setters] = await Promise.all([getTrustModes(db, teamId), listAcceptedDefinitions(db, teamId), this.settersOf(teamId)]);
    const servers = sources.map((s) => {
      const tools = registry.toolsOf(s.name).sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => this.row(t, modes, accepted.get(t.name), setters));
      return { ...s, tools, serverMode: modes.get(serverPattern(s.name)) };
    });
    return { configured: this.configured, configPath: this.deps.config?.path, configProblems: this.configProblems, servers, builtIn: registry.builtInNames() };
  }

  private row(tool: ToolDefinition, modes: Map<string, TrustMode>, accepted: AcceptedDefinition | undefined, setters: Map<string, { by: string; at: string }>): McpToolRow {
    const ext = tool.external!;
    const trust = externalTrustOf(tool, modes, accepted)!;
    const mode = effectiveMode({ actionType: actionTypeFor(this.deps.registry, tool.name), toolDeclaresHardFloor: false, workspaceMode: trust.workspaceMode, definitionChanged: trust.definitionChanged });
    const setting = trust.source === 'tool_setting' ? setters.get(tool.name) : trust.source === 'server_setting' ? setters.get(serverPattern(ext.server)) : undefined;
    let why: string;
    if (trust.source === 'annotations') why = `default: ${ext.defaultWhy}`;
    else if (trust.source === 'tool_setting') why = 'set by an admin for this tool';
    else why = `set by an admin for every tool of ${ext.server} (${serverPattern(ext.server)})`;
    let drift: McpToolRow['drift'];
    if (trust.definitionChanged) {
      const changes = accepted?.definition ? describeDefinitionChange(accepted.definition, ext.definition) : ['new tool (or never accepted) since the mode was set'];
      drift = { changes: changes.length ? changes : ['the definition changed'], trustedBy: accepted?.by ?? setting?.by, trustedAt: accepted?.at ?? setting?.at };
      why = `definition changed since it was trusted (${trust.workspaceMode} set by an admin): approval needed until an admin accepts it`;
    }
    return { name: tool.name, remoteName: ext.remoteName, description: ext.definition.description, mode, source: trust.source, why, setBy: setting?.by, drift };
  }

  private async settersOf(teamId: string): Promise<Map<string, { by: string; at: string }>> {
    const rows = await this.deps.db.selectFrom('trust_settings').select(['action_type', 'updated_by', 'updated_at', 'mode']).where('team_id', '=', teamId).execute();
    return new Map(rows.filter((r) => r.mode).map((r) => [r.action_type, { by: r.updated_by, at: r.updated_at }]));
  }

  /**
   * After each discovery: every workspace whose admins trusted a tool the server has since changed (or a
   * new tool under a server-wide mode) is told once per change, by a DM to whoever set or accepted it.
   * Until then and after, `/agent tools`, `/agent status` and the tool's cards say so too.
   */
  private async announceDrift(): Promise<void> {
    const { db, registry, outbox } = this.deps;
    const tools = registry.sources().filter((s) => s.kind === 'mcp').flatMap((s) => registry.toolsOf(s.name));
    if (tools.length === 0) return;
    const patterns = [...new Set(tools.map((t) => serverPattern(t.external!.server)))];
    const settings = await db
      .selectFrom('trust_settings')
      .select(['team_id', 'action_type', 'mode', 'updated_by'])
      .where('action_type', 'in', [...tools.map((t) => t.name), ...patterns])
      .where('mode', 'is not', null)
      .execute();
    const teams = [...new Set(settings.map((s) => s.team_id))];
    if (teams.length === 0) return;
    const acceptedRows = await listAcceptedForTools(db, tools.map((t) => t.name));
    let queued = false;
    for (const teamId of teams) {
      const modes = new Map<string, TrustMode>();
      const setBy = new Map<string, string>();
      for (const s of settings.filter((x) => x.team_id === teamId && x.mode)) {
        modes.set(s.action_type, s.mode!);
        setBy.set(s.action_type, s.updated_by);
      }
      const accepted = new Map(acceptedRows.filter((r) => r.teamId === teamId).map((r) => [r.tool, r]));
      for (const tool of tools) {
        const ext = tool.external!;
        const trust = externalTrustOf(tool, modes, accepted.get(tool.name));
        if (!trust?.definitionChanged) continue;
        const at = this.now();
        const text = this.driftMessage(tool, trust.workspaceMode!, trust.source, accepted.get(tool.name), trust.source === 'server_setting' ? setBy.get(serverPattern(ext.server)) : setBy.get(tool.name));
        const people = new Set([accepted.get(tool.name)?.by, trust.source === 'server_setting' ? setBy.get(serverPattern(ext.server)) : setBy.get(tool.name)].filter((x): x is string => typeof x === 'string'));
        await db.transaction().execute(async (trx) => {
          if (!(await markDriftNotified(trx, teamId, tool.name, ext.definitionHash, at))) return;
          await appendActivity(trx, { at, teamId, actor: 'system', kind: 'mcp_tool_changed', detail: { tool: tool.name, hash: ext.definitionHash, mode: trust.workspaceMode, source: trust.source } });
          for (const user of people) await outbox.toChannel(trx, teamId, user, text);
          queued = queued || people.size > 0;
        });
      }
    }
    if (queued) outbox.wake();
  }

  private driftMessage(tool: ToolDefinition, mode: TrustMode, source: ExternalModeSource, accepted: AcceptedDefinition | undefined, setter: string | undefined): Mrkdwn {
    const ext = tool.external!;
    const setting = source === 'server_setting' ? serverPattern(ext.server) : tool.name;
    const accept = md`Until an admin accepts it with ${code(`/agent tools accept ${tool.name}`)}, every call to it needs approval. ${trusted('`/agent tools` shows the details.')}`;
    if (!accepted?.definition) {
      return md`:warning: The MCP server ${code(ext.server)} offers a tool that was not there when ${setter ? mention(setter) : trusted('an admin')} set ${code(setting)} to ${code(mode)}: ${code(tool.name)} ("${ext.definition.description.slice(0, 300)}"). ${accept}`;
    }
    const changes = describeDefinitionChange(accepted.definition, ext.definition);
    return md`:warning: The MCP server ${code(ext.server)} changed the tool ${code(tool.name)} since ${accepted.by ? mention(accepted.by) : trusted('an admin')} trusted it (${code(setting)}: ${code(mode)}): ${changes.join('; ') || 'its definition changed'}. ${accept}`;
  }

  /** For `/agent status`: each server's state (no database reads). */
  statusLines(): ExternalSource[] {
    return this.deps.registry.sources().filter((s) => s.kind === 'mcp');
  }

  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.connection.close()));
  }
}
