import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { failedBeforeSending, formatWait, networkErrorText } from '../httpOutcome.js';
import { displayUrl, type McpServerConfig } from './config.js';

/** What the app tells an MCP server about itself in the initialize handshake. */
export const CLIENT_INFO = { name: 'agent-approvals', version: '0.1.0' } as const;

/** A tool as its server lists it (name, description, input schema, annotations: all untrusted). */
export type McpListedTool = Tool;
export type McpCallResult = CallToolResult;

/** Enough pages for any sane server; a server that keeps handing out cursors is cut off here. */
const MAX_LIST_PAGES = 20;

/**
 * Why a call failed, in terms of what may have happened on the server:
 * - `not_sent`: the request never left (connection refused, DNS, the session could not be opened);
 * - `rejected`: the server answered with an error (JSON-RPC error, HTTP 4xx), so it did not carry it out;
 * - `unknown`: the request left and no usable answer came back (timeout, connection lost, ambiguous 5xx).
 */
export type McpFailureKind = 'not_sent' | 'rejected' | 'unknown';

export class McpCallFailure extends Error {
  constructor(
    readonly kind: McpFailureKind,
    /** Completes "the MCP server <name> ...", e.g. "did not answer within 30 s". */
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'McpCallFailure';
  }
}

/**
 * One remote MCP server over Streamable HTTP, through the official SDK client. Listing uses a fresh
 * session each time (so a refresh sees the server as it is now); calls share one session, opened on first
 * use and opened again when the server forgets it.
 *
 * Calls go through a client that never listed the tools: the SDK validates structured output against a
 * listed tool's output schema and throws when it does not match, which would turn a call that did happen
 * into an error. What a tool returns is the model's to read, not ours to refuse.
 */
export class McpConnection {
  private callClient: Promise<Client> | undefined;
  private inFlight = 0;
  private retired = false;

  constructor(readonly server: McpServerConfig) {}

  private newTransport(): StreamableHTTPClientTransport {
    return new StreamableHTTPClientTransport(this.server.url, {
      requestInit: { headers: { ...this.server.headers } },
      // A stream the server drops is not chased for long: calls have their own timeout.
      reconnectionOptions: { initialReconnectionDelay: 1000, maxReconnectionDelay: 10_000, reconnectionDelayGrowFactor: 2, maxRetries: 2 },
    });
  }

  private async open(timeoutMs = this.server.connectTimeoutMs): Promise<Client> {
    const client = new Client({ ...CLIENT_INFO }, { capabilities: {} });
    try {
      await client.connect(this.newTransport(), { timeout: timeoutMs });
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    return client;
  }

  /**
   * Every tool the server offers now (all pages), within connectTimeoutMs in total: startup waits for
   * this. Throws an Error saying why the tools could not be listed.
   */
  async listTools(): Promise<McpListedTool[]> {
    let client: Client | undefined;
    const deadline = Date.now() + this.server.connectTimeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    try {
      client = await this.open(left());
      const tools: McpListedTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const res = await client.listTools(cursor ? { cursor } : {}, { timeout: left() });
        tools.push(...res.tools);
        cursor = res.nextCursor;
        if (!cursor) break;
      }
      return tools;
    } catch (err) {
      throw new Error(describeConnectError(err, this.server));
    } finally {
      await client?.close().catch(() => undefined);
    }
  }

  private session(): Promise<Client> {
    if (!this.callClient) {
      const opening = this.open();
      this.callClient = opening;
      opening
        .then((client) => {
          // A transport that closes (server gone, session ended) is opened again on the next call.
          client.onclose = () => {
            if (this.callClient === opening) this.callClient = undefined;
          };
        })
        .catch(() => {
          if (this.callClient === opening) this.callClient = undefined;
        });
    }
    return this.callClient;
  }

  private async dropSession(): Promise<void> {
    const current = this.callClient;
    this.callClient = undefined;
    await current?.then((c) => c.close()).catch(() => undefined);
  }

  /**
   * Calls one tool by its name on the server. Throws McpCallFailure; a result with `isError` is returned
   * as it is (the tool ran and reported a failure).
   */
  async callTool(name: string, args: Record<string, unknown>, opts: { signal?: AbortSignal } = {}): Promise<McpCallResult> {
    this.inFlight += 1;
    try {
      return await this.callOnce(name, args, opts);
    } finally {
      this.inFlight -= 1;
      if (this.retired && this.inFlight === 0) void this.dropSession();
    }
  }

  private async callOnce(name: string, args: Record<string, unknown>, opts: { signal?: AbortSignal }): Promise<McpCallResult> {
    for (let attempt = 0; ; attempt++) {
      let client: Client;
      try {
        client = await this.session();
      } catch (err) {
        throw new McpCallFailure('not_sent', `could not be reached, so nothing was sent: ${describeConnectError(err, this.server)}`);
      }
      try {
        const res = await client.callTool({ name, arguments: args }, undefined, { timeout: this.server.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
        if (!('content' in res)) throw new McpCallFailure('unknown', 'answered in an old format this app does not read');
        return res as McpCallResult;
      } catch (err) {
        if (err instanceof McpCallFailure) throw err;
        // 404: the server no longer knows our session. It did not process the request (the spec says
        // to start a new session), so one retry on a fresh session sends it for the first time.
        if (err instanceof StreamableHTTPError && err.code === 404 && attempt === 0) {
          await this.dropSession();
          continue;
        }
        const failure = classifyCallError(err, this.server);
        if (failure.kind !== 'rejected') await this.dropSession();
        throw failure;
      }
    }
  }

  /** Replaced by a connection with new settings: closes once the calls in flight have finished. */
  retire(): void {
    this.retired = true;
    if (this.inFlight === 0) void this.dropSession();
  }

  async close(): Promise<void> {
    await this.dropSession();
  }
}

function clip(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** Why connecting or listing failed, for `/agent tools` and `/agent status`. */
export function describeConnectError(err: unknown, server: McpServerConfig): string {
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) return `no answer within ${formatWait(server.connectTimeoutMs)}`;
  if (err instanceof StreamableHTTPError) {
    if (err.code === 401 || err.code === 403) return `HTTP ${err.code}: the server refused the credentials (check the headers in MCP_CONFIG)`;
    if (err.code === 404) return `HTTP 404: nothing at ${displayUrl(server.url)}`;
    return err.code && err.code > 0 ? `HTTP ${err.code} from the server` : clip(err.message);
  }
  if (err instanceof McpError) return clip(`the server answered with an error: ${err.message}`);
  if (err instanceof TypeError && err.cause) return `cannot connect (${networkErrorText(err)})`;
  return clip(err instanceof Error ? err.message : String(err));
}

/** A failed call, sorted by what it tells about whether the server acted. */
export function classifyCallError(err: unknown, server: McpServerConfig): McpCallFailure {
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) return new McpCallFailure('unknown', `did not answer within ${formatWait(server.timeoutMs)}`);
    if (err.code === ErrorCode.ConnectionClosed) return new McpCallFailure('unknown', 'closed the connection before answering');
    // A JSON-RPC error is the server's own answer: the call was refused (unknown tool, invalid params...).
    return new McpCallFailure('rejected', clip(`refused the call: ${err.message}`, 1000));
  }
  if (err instanceof StreamableHTTPError) {
    const status = err.code ?? -1;
    if (status >= 400 && status < 500) return new McpCallFailure('rejected', clip(`refused the call with HTTP ${status}: ${err.message}`, 1000));
    if (status === 503 || status === 501 || status === 505) return new McpCallFailure('rejected', `refused the call with HTTP ${status}`);
    return new McpCallFailure('unknown', status > 0 ? `answered HTTP ${status} after the call was sent` : clip(err.message));
  }
  if (err instanceof Error && err.name === 'AbortError') return new McpCallFailure('unknown', 'the call was aborted after it was sent');
  if (failedBeforeSending(err)) return new McpCallFailure('not_sent', `could not be reached (${networkErrorText(err)}), so nothing was sent`);
  return new McpCallFailure('unknown', `lost the connection after the call was sent (${networkErrorText(err)})`);
}
