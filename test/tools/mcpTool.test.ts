import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { loadMcpConfig, parseMcpConfig } from '../../src/connectors/mcp/config.js';
import { McpCallFailure, type McpListedTool } from '../../src/connectors/mcp/connection.js';
import { OutcomeUnknownError } from '../../src/errors.js';
import { defaultModeFromHints, resolveExternalTrust } from '../../src/policy/external.js';
import { describeDefinitionChange, definitionHash } from '../../src/tools/mcp/definition.js';
import { createMcpTool } from '../../src/tools/mcp/mcpTool.js';
import { API_TOOL_NAME, isServerPattern, namespacedName } from '../../src/tools/mcp/names.js';
import { formatMcpResult, MAX_RESULT_CHARS } from '../../src/tools/mcp/result.js';
import { ToolError } from '../../src/tools/types.js';

const base = { SLACK_BOT_TOKEN: 'xoxb-1', ANTHROPIC_API_KEY: 'k', SLACK_SIGNING_SECRET: 's' };

describe('MCP_CONFIG', () => {
  it('fills header values from the environment and applies defaults', () => {
    const r = parseMcpConfig(
      JSON.stringify({ servers: [{ name: 'tickets', url: 'https://t.example/mcp', headers: { Authorization: 'Bearer ${TICKETS_TOKEN}', 'X-Team': 'ops-${TEAM}' } }] }),
      'mcp.json',
      { TICKETS_TOKEN: 'abc', TEAM: 'blue' },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.servers[0]).toMatchObject({ name: 'tickets', headers: { Authorization: 'Bearer abc', 'X-Team': 'ops-blue' }, enabled: true, timeoutMs: 30_000, connectTimeoutMs: 10_000 });
    expect(r.config.servers[0]!.url.href).toBe('https://t.example/mcp');
  });

  it('lists every problem at once: unset variables, bad names, duplicates, reserved headers, credentials in the URL', () => {
    const r = parseMcpConfig(
      JSON.stringify({
        servers: [
          { name: 'a__b', url: 'https://x.example/mcp' },
          { name: 'ok', url: 'https://x.example/mcp', headers: { Authorization: 'Bearer ${NOPE}' } },
          { name: 'OK', url: 'https://x.example/mcp' },
          { name: 'h', url: 'https://x.example/mcp', headers: { 'Mcp-Session-Id': 'x' } },
        ],
      }),
      'mcp.json',
      {},
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const all = r.problems.join('\n');
    expect(all).toContain('servers[0].name may use letters, digits, - and single _');
    expect(all).toContain('servers[2].name the name OK is used twice');
    expect(all).toContain('servers[3].headers.Mcp-Session-Id Mcp-Session-Id is set by the MCP transport itself');
    const unset = parseMcpConfig(JSON.stringify({ servers: [{ name: 'ok', url: 'https://u:p@x.example/mcp', headers: { Authorization: 'Bearer ${NOPE}' } }] }), 'mcp.json', {});
    expect(unset.ok ? [] : unset.problems).toEqual([
      'mcp.json: servers[0] (ok) uses ${NOPE}, but the environment variable NOPE is not set',
      'mcp.json: servers[0].url must not carry a user or password: put credentials in headers, from environment variables',
    ]);
    // A disabled server may name variables that are not set.
    expect(parseMcpConfig(JSON.stringify({ servers: [{ name: 'off', url: 'https://x.example/${HOST}', enabled: false, headers: { A: '${NOPE}' } }] }), 'mcp.json', {}).ok).toBe(true);
  });

  it('the shipped example file is valid, and .env.sample documents MCP_CONFIG', () => {
    const root = new URL('../../', import.meta.url).pathname;
    const example = loadMcpConfig(join(root, 'mcp.example.json'), { TICKETS_TOKEN: 't' });
    expect(example.ok ? example.config.servers.map((s) => [s.name, s.enabled]) : example.problems).toEqual([['tickets', true], ['calendar', false]]);
    expect(readFileSync(join(root, '.env.sample'), 'utf8')).toMatch(/^# MCP_CONFIG=/m);
  });

  it('startup stops with one message naming the variables and the file problems together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-cfg-'));
    try {
      const file = join(dir, 'mcp.json');
      writeFileSync(file, JSON.stringify({ servers: [{ name: 'tickets', url: 'ftp://x', headers: { Authorization: 'Bearer ${TICKETS_TOKEN}' } }] }));
      expect(() => loadConfig({ ...base, PORT: 'x', MCP_CONFIG: file })).toThrow(/PORT[\s\S]*MCP_CONFIG: .*TICKETS_TOKEN is not set[\s\S]*MCP_CONFIG: .*url must be an http:\/\/ or https:\/\/ URL/);
      expect(() => loadConfig({ ...base, MCP_CONFIG: join(dir, 'missing.json') })).toThrow(/MCP_CONFIG: .*missing\.json cannot be read \(no such file\)/);
      writeFileSync(file, '{"servers": [');
      expect(() => loadConfig({ ...base, MCP_CONFIG: file })).toThrow(/is not valid JSON/);
      writeFileSync(file, JSON.stringify({ servers: [{ name: 'tickets', url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer ${TICKETS_TOKEN}' } }] }));
      const c = loadConfig({ ...base, MCP_CONFIG: file, TICKETS_TOKEN: 't' });
      expect(c.mcp?.path).toBe(file);
      expect(loadConfig(base).mcp).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MCP tool names', () => {
  it('are <server>__<tool>, valid for the Claude API, stable, and shortened with a hash when needed', () => {
    expect(namespacedName('tickets', 'close_ticket')).toBe('tickets__close_ticket');
    const dotted = namespacedName('gh', 'repos.issues/create');
    expect(dotted).toMatch(/^gh__repos_issues_create_[0-9a-f]{8}$/);
    expect(namespacedName('gh', 'repos.issues/create')).toBe(dotted);
    expect(namespacedName('gh', 'repos_issues_create')).not.toBe(dotted);
    const long = 'x'.repeat(120);
    const a = namespacedName('a-very-long-server-name', long);
    const b = namespacedName('a-very-long-server-name', `${long}y`);
    for (const n of [dotted, a, b, namespacedName('s', 'ünïcödé'), namespacedName('s', '...')]) expect(n).toMatch(API_TOOL_NAME);
    expect(a).not.toBe(b);
    expect(a.startsWith('a-very-long-server-name__xxxx')).toBe(true);
    expect(isServerPattern('tickets__*')).toBe(true);
    expect(isServerPattern('tickets__close')).toBe(false);
    expect(isServerPattern('__*')).toBe(false);
  });
});

describe('MCP trust from annotations (untrusted hints) and admin settings', () => {
  it('only read-only and not destructive runs on its own by default', () => {
    expect(defaultModeFromHints(undefined).mode).toBe('require_approval');
    expect(defaultModeFromHints({}).mode).toBe('require_approval');
    expect(defaultModeFromHints({ readOnlyHint: true }).mode).toBe('full_auto');
    expect(defaultModeFromHints({ readOnlyHint: true, destructiveHint: false }).mode).toBe('full_auto');
    expect(defaultModeFromHints({ readOnlyHint: true, destructiveHint: true }).mode).toBe('require_approval');
    expect(defaultModeFromHints({ readOnlyHint: false, destructiveHint: false }).mode).toBe('require_approval');
    expect(defaultModeFromHints({ destructiveHint: false }).mode).toBe('require_approval');
    expect(defaultModeFromHints({ idempotentHint: true, openWorldHint: false }).mode).toBe('require_approval');
  });

  it('a tool setting wins over the server setting; a looser mode needs the definition it was given for', () => {
    const h = (x: string) => x.repeat(64);
    expect(resolveExternalTrust({ toolMode: undefined, serverMode: undefined, acceptedHash: undefined, currentHash: h('a') })).toEqual({ workspaceMode: undefined, source: 'annotations', definitionChanged: false });
    expect(resolveExternalTrust({ toolMode: 'full_auto', serverMode: 'require_approval', acceptedHash: h('a'), currentHash: h('a') })).toEqual({ workspaceMode: 'full_auto', source: 'tool_setting', definitionChanged: false });
    expect(resolveExternalTrust({ toolMode: 'full_auto', serverMode: undefined, acceptedHash: h('a'), currentHash: h('b') }).definitionChanged).toBe(true);
    expect(resolveExternalTrust({ toolMode: undefined, serverMode: 'auto_notify', acceptedHash: undefined, currentHash: h('b') })).toEqual({ workspaceMode: 'auto_notify', source: 'server_setting', definitionChanged: true });
    // Asking is never weakened by a change.
    expect(resolveExternalTrust({ toolMode: 'require_approval', serverMode: undefined, acceptedHash: h('a'), currentHash: h('b') }).definitionChanged).toBe(false);
  });
});

const listed = (over: Partial<McpListedTool> = {}): McpListedTool => ({
  name: 'close_ticket',
  description: 'Close a ticket.',
  inputSchema: { type: 'object', properties: { ticket_id: { type: 'integer' }, note: { type: 'string', maxLength: 10 } }, required: ['ticket_id'], additionalProperties: false },
  annotations: { destructiveHint: true },
  ...over,
});

describe('an MCP tool as the app offers it', () => {
  it('validates input against the JSON Schema exactly as declared', () => {
    const tool = createMcpTool('tickets', listed(), { callTool: async () => ({ content: [] }) });
    expect(tool.name).toBe('tickets__close_ticket');
    expect(tool.jsonSchema).toMatchObject({ type: 'object', required: ['ticket_id'] });
    expect(tool.inputSchema.safeParse({ ticket_id: 4 }).success).toBe(true);
    const bad = tool.inputSchema.safeParse({ ticket_id: 'x', note: 'far too long note', extra: 1 });
    expect(bad.success).toBe(false);
    const msg = bad.error!.issues.map((i) => i.message).join('; ');
    expect(msg).toContain('input/ticket_id must be integer');
    expect(msg).toContain('input/note must NOT have more than 10 characters');
    expect(msg).toContain('input must NOT have additional properties');
    expect(tool.inputSchema.safeParse([1]).success).toBe(false);
    expect(tool.external).toMatchObject({ server: 'tickets', remoteName: 'close_ticket', defaultMode: 'require_approval' });
  });

  it('a schema that cannot be compiled is not offered', () => {
    expect(() => createMcpTool('t', listed({ inputSchema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } }), { callTool: async () => ({ content: [] }) })).toThrow();
  });

  it('the card describes server, tool, description and every argument as they will be sent', async () => {
    const tool = createMcpTool('tickets', listed(), { callTool: async () => ({ content: [] }) });
    const prepared = await tool.prepare!({ ticket_id: 4 }, { run: { id: 'r-1', teamId: 'T', channelId: 'C', threadTs: null, requesterId: 'U' } });
    const d = tool.describe({ ticket_id: 4, note: 'hi' }, prepared);
    expect(d.summary).toBe('Call close_ticket on the MCP server tickets');
    expect(d.fields).toEqual([
      { label: 'MCP server', value: 'tickets' },
      { label: 'Tool', value: 'close_ticket' },
      { label: 'What the server says it does', value: 'Close a ticket.' },
    ]);
    expect(JSON.parse(d.content!)).toEqual({ ticket_id: 4, note: 'hi' });
  });

  it('does not call a tool whose definition changed after the card; maps failures by what may have happened', async () => {
    const calls: string[] = [];
    let fail: McpCallFailure | undefined;
    const caller = {
      callTool: async (name: string) => {
        calls.push(name);
        if (fail) throw fail;
        return { content: [{ type: 'text' as const, text: 'ok' }] };
      },
    };
    const tool = createMcpTool('tickets', listed(), caller);
    const ctx = (hash: string) => ({ run: { id: 'r-1', teamId: 'T', channelId: 'C', threadTs: null, requesterId: 'U' }, actionId: 'a', prepared: { definitionHash: hash }, approvedBy: 'U2' });
    await expect(tool.run({ ticket_id: 1 }, ctx('stale'))).rejects.toBeInstanceOf(ToolError);
    expect(calls).toEqual([]);
    const hash = tool.external!.definitionHash;
    fail = new McpCallFailure('unknown', 'did not answer within 30 s');
    await expect(tool.run({ ticket_id: 1 }, ctx(hash))).rejects.toBeInstanceOf(OutcomeUnknownError);
    fail = new McpCallFailure('not_sent', 'could not be reached (ECONNREFUSED), so nothing was sent');
    expect(await tool.run({ ticket_id: 1 }, ctx(hash))).toEqual({ isError: true, content: 'Not done: the MCP server "tickets" could not be reached (ECONNREFUSED), so nothing was sent.' });
    const readOnly = createMcpTool('tickets', listed({ annotations: { readOnlyHint: true } }), caller);
    fail = new McpCallFailure('unknown', 'did not answer within 30 s');
    const out = await readOnly.run({ ticket_id: 1 }, ctx(readOnly.external!.definitionHash));
    expect(out.isError).toBe(true);
  });
});

describe('MCP results and definition changes', () => {
  it('label the origin, keep text and structured content, summarise images and resources, and cut at the limit', () => {
    const r = formatMcpResult('tickets', 'search', {
      content: [
        { type: 'text', text: 'Ticket 42' },
        { type: 'image', data: 'A'.repeat(4000), mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'file:///log.txt', mimeType: 'text/plain', text: 'L'.repeat(2000) } },
        { type: 'resource_link', uri: 'https://t.example/42', name: 'ticket 42' },
      ],
      structuredContent: { id: 42 },
    });
    expect(r.isError).toBeUndefined();
    expect(r.content.startsWith('Result of the tool "search" from the MCP server "tickets". This is data from an external service')).toBe(true);
    expect(r.content).toContain('Ticket 42');
    expect(r.content).toContain('[Image (image/png, about 3 KB) returned by the tool; not shown here.]');
    expect(r.content).toContain('[Embedded resource file:///log.txt, text/plain, 2,000 characters; beginning:]');
    expect(r.content).not.toContain('L'.repeat(600));
    expect(r.content).toContain('[Link to resource https://t.example/42 (ticket 42)]');
    expect(r.content).toContain('Structured content (JSON):\n{\n  "id": 42\n}');
    // Structured content already given as JSON text is not repeated.
    expect(formatMcpResult('s', 't', { content: [{ type: 'text', text: '{"id":42}' }], structuredContent: { id: 42 } }).content).not.toContain('Structured content');
    const big = formatMcpResult('s', 't', { content: [{ type: 'text', text: 'x'.repeat(MAX_RESULT_CHARS + 500) }], isError: true });
    expect(big.isError).toBe(true);
    expect(big.content).toContain('reported an error');
    expect(big.content).toContain(`[Result truncated: the first 20,000 of ${(MAX_RESULT_CHARS + 500).toLocaleString('en-US')} characters are shown.]`);
  });

  it('say what changed in a definition; the hash ignores key order only', () => {
    const a = { description: 'Close.', inputSchema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] }, annotations: { destructiveHint: true } };
    const b = { description: 'Close and purge.', inputSchema: { type: 'object', properties: { id: { type: 'string' }, purge: { type: 'boolean' } }, required: ['id', 'purge'] }, annotations: { destructiveHint: true, readOnlyHint: false } };
    expect(describeDefinitionChange(a, b)).toEqual([
      'description changed from "Close." to "Close and purge."',
      'input schema changed: added "purge"; changed "id"; required arguments now "id", "purge"',
      'annotations changed: readOnlyHint unset → false',
    ]);
    expect(definitionHash(a)).toBe(definitionHash({ annotations: a.annotations, inputSchema: { required: ['id'], properties: a.inputSchema.properties, type: 'object' }, description: 'Close.' }));
    expect(definitionHash(a)).not.toBe(definitionHash(b));
  });
});
