/**
 * A real MCP server for tests, built with the official SDK (McpServer + StreamableHTTPServerTransport) and
 * served over Streamable HTTP on loopback, with sessions as a production server keeps them.
 *
 * Its tools can be changed between sessions (a new definition is what a refresh sees), it can be taken
 * down and brought back on the same port, can demand a bearer token, and records every tool call it
 * receives: tests assert on what really reached the server.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';

export interface TestMcpTool {
  name: string;
  description?: string;
  /** A zod object shape; the SDK turns it into the tool's JSON Schema. */
  inputSchema?: Record<string, z.ZodType>;
  annotations?: ToolAnnotations;
  handler?: (args: Record<string, unknown>, extra: { signal: AbortSignal }) => CallToolResult | Promise<CallToolResult>;
}

export interface TestMcpCall {
  tool: string;
  args: Record<string, unknown>;
  at: number;
}

export interface TestMcpServer {
  /** The Streamable HTTP endpoint, e.g. http://127.0.0.1:port/mcp. */
  url: string;
  port: number;
  /** Every tools/call the server received, in order. */
  calls: TestMcpCall[];
  /** Authorization headers seen on requests (to check the configured header arrived). */
  authorizations: string[];
  /** Tools offered to sessions opened from now on. */
  setTools(tools: TestMcpTool[]): void;
  /** Stops listening (the server is "down"); open sessions are closed. */
  down(): Promise<void>;
  /** Listens again on the same port, with no sessions (as after a restart). */
  up(): Promise<void>;
  /** Ends every session, as a server does when they expire: their next request gets 404. */
  forgetSessions(): Promise<void>;
  /** Resolves once `n` calls have been received. */
  waitForCalls(n: number, timeoutMs?: number): Promise<TestMcpCall[]>;
  close(): Promise<void>;
}

export interface TestMcpServerOptions {
  tools: TestMcpTool[];
  /** When set, requests without `Authorization: <value>` get 401. */
  requireAuthorization?: string;
  port?: number;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function isInitialize(body: unknown): boolean {
  const msgs = Array.isArray(body) ? body : [body];
  return msgs.some((m) => m && typeof m === 'object' && (m as { method?: unknown }).method === 'initialize');
}

export async function startTestMcpServer(opts: TestMcpServerOptions): Promise<TestMcpServer> {
  let tools = opts.tools;
  const calls: TestMcpCall[] = [];
  const authorizations: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const buildServer = (): McpServer => {
    const server = new McpServer({ name: 'test-mcp', version: '1.0.0' });
    for (const t of tools) {
      server.registerTool(
        t.name,
        {
          ...(t.description !== undefined ? { description: t.description } : {}),
          ...(t.inputSchema ? { inputSchema: t.inputSchema } : {}),
          ...(t.annotations ? { annotations: t.annotations } : {}),
        },
        // The SDK passes (args, extra) to tools with an input schema and (extra) alone to the others.
        (async (...params: unknown[]) => {
          const [args, extra] = (t.inputSchema ? params : [{}, params[0]]) as [Record<string, unknown>, { signal: AbortSignal }];
          calls.push({ tool: t.name, args: args ?? {}, at: Date.now() });
          if (t.handler) return t.handler(args ?? {}, extra);
          return { content: [{ type: 'text', text: `${t.name} done` }] };
        }) as never,
      );
    }
    return server;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    authorizations.push(String(req.headers['authorization'] ?? ''));
    if (opts.requireAuthorization && req.headers['authorization'] !== opts.requireAuthorization) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    if (typeof sessionId === 'string') {
      const transport = sessions.get(sessionId);
      if (!transport) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      await transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitialize(body)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'No session' }, id: null }));
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await buildServer().connect(transport);
    await transport.handleRequest(req, res, body);
  };

  let server: Server | undefined;
  let port = opts.port ?? 0;
  const listen = async () => {
    server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const t of sessions.values()) await t.close().catch(() => undefined);
    sessions.clear();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}/mcp`;
    },
    get port() {
      return port;
    },
    calls,
    authorizations,
    setTools(next) {
      tools = next;
    },
    down: stop,
    up: listen,
    async forgetSessions() {
      const open = [...sessions.values()];
      sessions.clear();
      for (const t of open) await t.close().catch(() => undefined);
    },
    async waitForCalls(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (calls.length < n) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${n} MCP tool call(s); got ${calls.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return calls.slice(0, n);
    },
    close: stop,
  };
}
