import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseMcpConfig, type McpServerConfig } from '../../src/connectors/mcp/config.js';
import { McpCallFailure, McpConnection } from '../../src/connectors/mcp/connection.js';
import { startTestMcpServer, type TestMcpServer } from '../helpers/mcpServer.js';

function serverConfig(url: string, extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return { name: 'tickets', url: new URL(url), headers: {}, enabled: true, timeoutMs: 5000, connectTimeoutMs: 5000, ...extra };
}

describe('MCP connection (official SDK client against an SDK server on loopback)', () => {
  let server: TestMcpServer | undefined;
  let conn: McpConnection | undefined;
  afterEach(async () => {
    await conn?.close();
    await server?.close();
    conn = undefined;
    server = undefined;
  });

  it('lists tools with schemas and annotations, sends the configured header, calls a tool', async () => {
    server = await startTestMcpServer({
      requireAuthorization: 'Bearer s3cret',
      tools: [
        { name: 'search', description: 'Search tickets', inputSchema: { query: z.string() }, annotations: { readOnlyHint: true }, handler: (a) => ({ content: [{ type: 'text', text: `found ${String(a['query'])}` }] }) },
        { name: 'close_ticket', description: 'Close a ticket', inputSchema: { id: z.number().int() }, annotations: { destructiveHint: true } },
      ],
    });
    const cfg = parseMcpConfig(JSON.stringify({ servers: [{ name: 'tickets', url: server.url, headers: { Authorization: 'Bearer ${TICKETS_TOKEN}' } }] }), 'mcp.json', { TICKETS_TOKEN: 's3cret' });
    if (!cfg.ok) throw new Error(cfg.problems.join('\n'));
    conn = new McpConnection(cfg.config.servers[0]!);
    const tools = await conn.listTools();
    expect(tools.map((t) => t.name)).toEqual(['search', 'close_ticket']);
    expect(tools[0]!.inputSchema).toMatchObject({ type: 'object', properties: { query: { type: 'string' } }, required: ['query'] });
    expect(tools[0]!.annotations).toEqual({ readOnlyHint: true });
    const res = await conn.callTool('search', { query: 'printer' });
    expect(res.content).toEqual([{ type: 'text', text: 'found printer' }]);
    expect(server.calls).toEqual([{ tool: 'search', args: { query: 'printer' }, at: expect.any(Number) }]);
    expect(server.authorizations.every((a) => a === 'Bearer s3cret')).toBe(true);
  });

  it('says why a server cannot be listed: refused connection, wrong credentials', async () => {
    server = await startTestMcpServer({ requireAuthorization: 'Bearer right', tools: [] });
    conn = new McpConnection(serverConfig(server.url, { headers: { Authorization: 'Bearer wrong' } }));
    await expect(conn.listTools()).rejects.toThrow(/HTTP 401: the server refused the credentials/);
    await server.down();
    conn = new McpConnection(serverConfig(server.url));
    await expect(conn.listTools()).rejects.toThrow(/cannot connect \(ECONNREFUSED\)/);
  });

  it('a server that accepts connections but never answers is reported as timing out, within the bound', async () => {
    const hanging = createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (hanging.address() as AddressInfo).port;
      conn = new McpConnection(serverConfig(`http://127.0.0.1:${port}/mcp`, { connectTimeoutMs: 300 }));
      await expect(conn.listTools()).rejects.toThrow('no answer within 300 ms');
    } finally {
      hanging.closeAllConnections();
      await new Promise((r) => hanging.close(r));
    }
  });

  it('a call to a server that is down was never sent; a call that times out has an unknown outcome', async () => {
    let release: (() => void) | undefined;
    server = await startTestMcpServer({
      tools: [{ name: 'slow', handler: () => new Promise((resolve) => (release = () => resolve({ content: [{ type: 'text', text: 'late' }] }))) }],
    });
    conn = new McpConnection(serverConfig(server.url, { timeoutMs: 300 }));
    const slow = await conn.callTool('slow', {}).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(McpCallFailure);
    expect((slow as McpCallFailure).kind).toBe('unknown');
    expect((slow as McpCallFailure).reason).toBe('did not answer within 300 ms');
    release?.();
    await server.down();
    const down = await conn.callTool('slow', {}).catch((e: unknown) => e);
    expect((down as McpCallFailure).kind).toBe('not_sent');
    expect((down as McpCallFailure).reason).toMatch(/could not be reached.*nothing was sent/);
  });

  it('a server that forgot the session gets the call once, on a new session', async () => {
    server = await startTestMcpServer({ tools: [{ name: 'ping' }] });
    conn = new McpConnection(serverConfig(server.url));
    await conn.callTool('ping', {});
    await server.forgetSessions();
    const res = await conn.callTool('ping', {});
    expect(res.content).toEqual([{ type: 'text', text: 'ping done' }]);
    expect(server.calls.map((c) => c.tool)).toEqual(['ping', 'ping']);
  });

  it('an unknown tool is refused by the server: rejected, not unknown', async () => {
    server = await startTestMcpServer({ tools: [{ name: 'ping' }] });
    conn = new McpConnection(serverConfig(server.url));
    const res = await conn.callTool('nope', {}).catch((e: unknown) => e);
    // The SDK server answers an unknown tool with an isError result (or a JSON-RPC error, by version).
    if (res instanceof McpCallFailure) expect(res.kind).toBe('rejected');
    else expect((res as { isError?: boolean }).isError).toBe(true);
    expect(server.calls).toEqual([]);
  });
});
