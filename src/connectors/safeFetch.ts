/**
 * HTTP GET for the `fetch_url` tool, hardened against server-side request forgery: the model chooses the
 * URL, and a page it reads may try to steer it towards the cloud metadata service, an intranet host or
 * the app's own admin endpoints. Every hop is checked after DNS resolution, and the connection is made
 * to exactly the addresses that were checked, so a DNS answer that changes between check and connect
 * (rebinding) cannot slip a private address through.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { ToolError } from '../errors.js';
import { htmlToText } from './htmlToText.js';

export interface FetchedPage {
  /** The URL the content came from, after redirects. */
  url: string;
  status: number;
  /** The media type without parameters, e.g. `text/html`. */
  contentType: string;
  /** The page title, for HTML. */
  title?: string;
  /** The body reduced to text (HTML is converted, other text types are returned as they are). */
  text: string;
  /** True when the body was longer than the byte limit and only its beginning was read. */
  truncated: boolean;
}

export interface SafeFetcher {
  fetchText(url: string, options?: { signal?: AbortSignal }): Promise<FetchedPage>;
}

export interface SafeFetchOptions {
  /** Hostname to addresses. Default: the system resolver (getaddrinfo), every address. */
  resolve?: (hostname: string) => Promise<string[]>;
  /** Which addresses may be connected to. Default: public internet addresses only. */
  addressAllowed?: (ip: string) => boolean;
  /** Total time for the whole fetch, redirects included. Default 10 s. */
  timeoutMs?: number;
  /** Body bytes read at most (after decompression); the rest is dropped. Default 1 MiB. */
  maxBytes?: number;
  /** Default 5. */
  maxRedirects?: number;
  userAgent?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_MAX_REDIRECTS = 5;
const DEFAULT_USER_AGENT = 'agent-approvals-fetch/0.1';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TEXT_TYPES = new Set(['application/json', 'application/xml', 'application/xhtml+xml']);
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);

export function createSafeFetcher(options: SafeFetchOptions = {}): SafeFetcher {
  const resolve = options.resolve ?? systemResolve;
  const addressAllowed = options.addressAllowed ?? isPublicAddress;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;

  async function checkedAddresses(url: URL, signal: AbortSignal): Promise<string[]> {
    const host = bareHostname(url);
    if (isIP(host) !== 0) {
      if (!addressAllowed(host)) throw refused(`${host} is not a public internet address, so it is not fetched.`);
      return [host];
    }
    let addresses: string[];
    try {
      addresses = await abortable(resolve(host), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ToolError('fetch_failed', `Could not resolve the host name ${host}.`);
    }
    if (addresses.length === 0) throw new ToolError('fetch_failed', `Could not resolve the host name ${host}.`);
    // Any non-public answer refuses the whole host: connecting to "the public one" would leave the
    // choice to whoever controls the DNS records.
    const blocked = addresses.find((ip) => isIP(ip) === 0 || !addressAllowed(ip));
    if (blocked !== undefined) {
      throw refused(`${host} resolves to ${blocked}, which is not a public internet address, so it is not fetched.`);
    }
    return addresses;
  }

  async function fetchOnce(rawUrl: string, signal: AbortSignal): Promise<FetchedPage> {
    let url = parseTarget(rawUrl);
    for (let redirects = 0; ; redirects++) {
      const addresses = await checkedAddresses(url, signal);
      const response = await send(url, addresses, signal, userAgent);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (REDIRECT_STATUSES.has(status) && location) {
        response.destroy();
        if (redirects >= maxRedirects) {
          throw new ToolError('fetch_failed', `Stopped after ${maxRedirects} redirects (last one to ${location}).`);
        }
        url = parseTarget(resolveLocation(location, url));
        continue;
      }
      return readPage(url, response, maxBytes, signal);
    }
  }

  return {
    async fetchText(rawUrl, fetchOptions = {}) {
      const controller = new AbortController();
      const timer = setTimeout(() => {
        controller.abort(new ToolError('fetch_failed', `Timed out after ${formatMs(timeoutMs)} fetching ${rawUrl}.`));
      }, timeoutMs);
      const outer = fetchOptions.signal;
      const onOuterAbort = () => controller.abort(new ToolError('fetch_failed', `Fetching ${rawUrl} was cancelled.`));
      if (outer?.aborted) onOuterAbort();
      outer?.addEventListener('abort', onOuterAbort, { once: true });
      try {
        return await fetchOnce(rawUrl, controller.signal);
      } catch (err) {
        // Whatever a destroyed socket reports after an abort, the abort is the real cause.
        if (controller.signal.aborted && controller.signal.reason instanceof ToolError) throw controller.signal.reason;
        if (err instanceof ToolError) throw err;
        throw new ToolError('fetch_failed', `Could not fetch ${rawUrl}: ${networkErrorText(err)}`);
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener('abort', onOuterAbort);
      }
    },
  };
}

/** True for addresses on the public internet; false for anything local, private, special or malformed. */
export function isPublicAddress(ip: string): boolean {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  // A zone index ("fe80::1%eth0") only exists for link-scoped addresses.
  if (address.includes('%')) return false;
  const family = isIP(address);
  if (family === 4) return isPublicV4(parseV4(address));
  if (family === 6) return isPublicV6(parseV6(address));
  return false;
}

// IPv4 ranges that are not reachable public unicast (IANA special-purpose registry).
const NON_PUBLIC_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, includes cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes broadcast 255.255.255.255
];
const NON_PUBLIC_V4_RANGES = NON_PUBLIC_V4.map(([base, bits]) => ({ base: parseV4(base), bits }));

function isPublicV4(value: number): boolean {
  return !NON_PUBLIC_V4_RANGES.some(({ base, bits }) => {
    const size = 2 ** (32 - bits);
    return Math.floor(value / size) === Math.floor(base / size);
  });
}

/**
 * IPv6 is checked as an allowlist: only global unicast (2000::/3) is public, minus its special blocks.
 * Forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that IPv4 address, because that
 * is where the packets end up.
 */
function isPublicV6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embeddedV4 = g6 * 0x10000 + g7;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return isPublicV4(embeddedV4);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPublicV4(embeddedV4);
  if ((g0 & 0xe000) !== 0x2000) return false; // loopback, unspecified, fc00::/7, fe80::/10, ff00::/8...
  if (g0 === 0x2001 && g1 < 0x0200) return false; // 2001::/23 IETF assignments: Teredo, benchmarking, ORCHID
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // documentation
  if (g0 === 0x3fff && g1 < 0x1000) return false; // documentation (3fff::/20)
  if (g0 === 0x2002) return isPublicV4(g1 * 0x10000 + g2); // 6to4 carries the IPv4 address in bits 16-47
  return true;
}

function parseV4(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** Eight 16-bit groups; the input is already known to be valid IPv6 (net.isIP). */
function parseV6(address: string): number[] {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    text = `${text.slice(0, lastColon + 1)}${Math.floor(v4 / 0x10000).toString(16)}:${(v4 % 0x10000).toString(16)}`;
  }
  const toGroups = (part: string) => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const gap = text.indexOf('::');
  if (gap === -1) return toGroups(text);
  const head = toGroups(text.slice(0, gap));
  const rest = toGroups(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}

function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(`${raw} is not a valid absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refused(`Only http and https URLs can be fetched, not ${url.protocol} URLs.`);
  }
  // Credentials in a URL would be sent to whatever host the model picked; never forward them.
  if (url.username || url.password) throw refused('URLs that contain a user name or password are not fetched.');
  if (!url.hostname) throw refused(`${raw} has no host.`);
  url.hash = '';
  return url;
}

function resolveLocation(location: string, base: URL): string {
  try {
    return new URL(location, base).href;
  } catch {
    throw new ToolError('fetch_failed', `${base.href} redirected to an invalid location: ${location}`);
  }
}

/** The URL's hostname without the brackets WHATWG keeps around IPv6 literals. */
function bareHostname(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function send(url: URL, addresses: string[], signal: AbortSignal, userAgent: string): Promise<IncomingMessage> {
  const hostname = bareHostname(url);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(
      {
        protocol: url.protocol,
        hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        // No pooled sockets: a kept-alive socket was connected under an earlier check.
        agent: false,
        lookup: pinnedLookup(addresses),
        // The certificate is verified against the name the model asked for, not the pinned address.
        ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
        signal,
        headers: {
          host: url.host,
          'user-agent': userAgent,
          accept: 'text/html, application/xhtml+xml, text/plain;q=0.9, application/json;q=0.9, application/xml;q=0.8, text/*;q=0.7',
          'accept-encoding': 'gzip, deflate, br',
        },
      },
      resolve,
    );
    request.on('error', reject);
    request.end();
  });
}

/**
 * A `lookup` that answers with the addresses already checked, whatever the resolver would say now.
 * Node asks with `all: true` when it races IPv4 and IPv6 (autoSelectFamily), otherwise for one address.
 */
function pinnedLookup(addresses: string[]): LookupFunction {
  const entries: LookupAddress[] = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname: string, options: LookupOptions, callback) => {
    const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
    const wanted = family === 0 ? entries : entries.filter((entry) => entry.family === family);
    const first = wanted[0];
    if (!first) {
      callback(Object.assign(new Error(`No IPv${family} address for the host`), { code: 'ENOTFOUND' }), '', 0);
    } else if (options.all) {
      callback(null, wanted);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

async function readPage(url: URL, response: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<FetchedPage> {
  const status = response.statusCode ?? 0;
  const header = response.headers['content-type'] ?? '';
  const contentType = header.split(';')[0]?.trim().toLowerCase() ?? '';
  const base = { url: url.href, status, contentType };
  if (!isTextType(contentType)) {
    response.destroy();
    // An error page in some binary type still tells the model the status, which is what matters.
    if (status >= 400) return { ...base, text: '', truncated: false };
    const shown = contentType || 'no content type';
    throw refused(`${url.href} is ${shown}; only text content (HTML, plain text, JSON, XML) is fetched.`);
  }

  const body = decompressed(response);
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - size));
      truncated = true;
      break; // leaving the loop destroys the stream, so the rest is never downloaded
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  // A stream destroyed by the timeout may end quietly; a partial body must not pass for a whole one.
  if (signal.aborted) throw signal.reason;
  const bytes = Buffer.concat(chunks);
  const decoded = decode(bytes, charsetOf(header) ?? (HTML_TYPES.has(contentType) ? metaCharset(bytes) : undefined));
  if (HTML_TYPES.has(contentType)) {
    const { title, text } = htmlToText(decoded);
    return title === undefined ? { ...base, text, truncated } : { ...base, title, text, truncated };
  }
  return { ...base, text: decoded, truncated };
}

function isTextType(contentType: string): boolean {
  return (
    contentType.startsWith('text/') ||
    TEXT_TYPES.has(contentType) ||
    /^application\/[\w.+-]+\+(json|xml)$/.test(contentType)
  );
}

function decompressed(response: IncomingMessage): Readable {
  const encoding = String(response.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : null;
  if (encoding && encoding !== 'identity' && !decoder) {
    response.destroy();
    throw new ToolError('fetch_failed', `The server sent an unsupported content encoding (${encoding}).`);
  }
  if (!decoder) return response;
  // pipeline destroys the response when the decoder is destroyed (early stop) or fails.
  return pipeline(response, decoder, () => {});
}

function charsetOf(header: string): string | undefined {
  return /;\s*charset\s*=\s*"?([\w.:-]+)"?/i.exec(header)?.[1];
}

/** HTML often declares its encoding only in a meta tag near the top. */
function metaCharset(bytes: Buffer): string | undefined {
  const head = bytes.subarray(0, 2048).toString('latin1');
  return /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
}

function decode(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes); // unknown label: UTF-8 is the best guess
  }
}

async function systemResolve(hostname: string): Promise<string[]> {
  const answers = await dnsLookup(hostname, { all: true });
  return answers.map((answer) => answer.address);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function refused(message: string): ToolError {
  return new ToolError('fetch_refused', message);
}

function networkErrorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED') return 'the connection was refused.';
  if (code === 'ECONNRESET') return 'the connection was reset.';
  if (code === 'ENOTFOUND') return 'the host name could not be resolved.';
  return message;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
