import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { htmlToText } from '../../src/connectors/htmlToText.js';
import { createSafeFetcher, isPublicAddress } from '../../src/connectors/safeFetch.js';
import type { SafeFetchOptions } from '../../src/connectors/safeFetch.js';
import { ToolError } from '../../src/tools/types.js';

// Every test here talks to a server on 127.0.0.1 or is refused before any connection is made. Names
// under .test are answered by a fake resolver; the system resolver never sees them.
const FAKE_DNS: Record<string, string[]> = {
  'public.test': ['127.0.0.1'],
  'intranet.test': ['10.0.0.5'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.0.0.5'],
  'mapped.test': ['::ffff:192.168.1.1'],
};

async function fakeResolve(hostname: string): Promise<string[]> {
  const answer = FAKE_DNS[hostname];
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return answer;
}

/** Only the loopback test server counts as "public" here; everything else keeps the default verdict. */
const onlyLoopbackServer = (ip: string) => ip === '127.0.0.1';

const PAGE_HTML = `<!doctype html>
<html><head><title>Quarterly &amp; Annual Report</title>
<style>body { color: red }</style><script>window.secret = "do not show";</script></head>
<body><h1>Revenue</h1><p>Up 12&#37; on last year.</p><script>alert("nope")</script>
<ul><li>North</li><li>South</li></ul></body></html>`;

let server: http.Server;
let port: number;
let requests: Array<{ path: string; host: string | undefined }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '', host: req.headers.host });
    route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
});

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  switch (req.url) {
    case '/page':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE_HTML);
      return;
    case '/plain':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('just text');
      return;
    case '/json':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    case '/gzip':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(gzipSync('unzipped text'));
      return;
    case '/latin1':
      res.writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' }).end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
      return;
    case '/big':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('a'.repeat(5000));
      return;
    case '/endless': {
      // Streams forever; only the client's limit stops it.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('b'.repeat(16 * 1024)), 1);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case '/hang':
      return; // never answers
    case '/hang-body':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part');
      return; // never finishes
    case '/image':
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      return;
    case '/missing':
      res.writeHead(404, { 'content-type': 'text/html' }).end('<p>Not here</p>');
      return;
    case '/gone-binary':
      res.writeHead(410, { 'content-type': 'application/octet-stream' }).end('xx');
      return;
    case '/to-page':
      res.writeHead(301, { location: '/page' }).end();
      return;
    case '/to-intranet':
      res.writeHead(302, { location: 'http://intranet.test/admin' }).end();
      return;
    case '/to-metadata':
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    case '/to-file':
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return;
    case '/loop':
      res.writeHead(302, { location: '/loop' }).end();
      return;
    default:
      res.writeHead(500).end();
  }
}

function loopbackFetcher(extra: SafeFetchOptions = {}) {
  return createSafeFetcher({ resolve: fakeResolve, addressAllowed: onlyLoopbackServer, ...extra });
}

async function expectToolError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<ToolError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the fetch to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  const toolError = err as ToolError;
  expect(toolError.code).toBe(code);
  if (message) expect(toolError.message).toMatch(message);
  return toolError;
}

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.5',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '198.18.0.1',
    '198.19.255.255',
    '192.0.2.10',
    '198.51.100.7',
    '203.0.113.9',
    '192.0.0.8',
    '::1',
    '::',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:a00:1::1', // 6to4 around 10.0.0.1
    '2001:db8::1',
    '2001::1', // Teredo
    '3fff::1',
    '::127.0.0.1', // deprecated IPv4-compatible form
    'not an ip',
    '',
    'localhost',
  ])('refuses %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '198.17.255.255',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:81b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1', // 6to4 around 8.8.8.8
  ])('accepts %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('htmlToText', () => {
  it('keeps the title and body text and drops scripts, styles and head content', () => {
    const { title, text } = htmlToText(PAGE_HTML);
    expect(title).toBe('Quarterly & Annual Report');
    expect(text).toBe('Revenue\n\nUp 12% on last year.\n\nNorth\nSouth');
    expect(text).not.toMatch(/secret|nope|color/);
  });

  it('drops noscript, svg and comments, and turns br and table rows into lines', () => {
    const html =
      '<div>one<br>two<br/>three</div><noscript>enable js</noscript><svg><title>icon</title><path d="M0"/></svg>' +
      '<!-- hidden --><table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>';
    expect(htmlToText(html)).toEqual({ text: 'one\ntwo\nthree\n\na b\nc' });
  });

  it('decodes entities once, including numeric ones', () => {
    const { text } = htmlToText('<p>&lt;b&gt; &quot;x&quot; &#39;y&#39; a&nbsp;b &#8364; &#x41;&#X42; &amp;lt; &bogus; &constructor;</p>');
    expect(text).toBe('<b> "x" \'y\' a b € AB &lt; &bogus; &constructor;');
  });

  it('does not treat escaped markup as tags and keeps a bare "<" as text', () => {
    expect(htmlToText('<p>&lt;script&gt;x&lt;/script&gt; and 1 < 2</p>').text).toBe('<script>x</script> and 1 < 2');
  });

  it('collapses source whitespace and handles quoted ">" in attributes', () => {
    const { text } = htmlToText('<p title="a > b">  lots \n\n  of\tspace  </p>\n\n\n\n<p>next</p>');
    expect(text).toBe('lots of space\n\nnext');
  });

  it('copes with an unclosed script and an omitted </head>', () => {
    expect(htmlToText('<p>before</p><script>var x = 1;').text).toBe('before');
    expect(htmlToText('<head><title>T</title><body><p>body text</p>')).toEqual({ title: 'T', text: 'body text' });
  });

  it('returns plain text unchanged apart from whitespace', () => {
    expect(htmlToText('no markup here')).toEqual({ text: 'no markup here' });
  });
});

describe('createSafeFetcher: refusals (no connection is ever made)', () => {
  const fetcher = createSafeFetcher({ resolve: fakeResolve });

  it.each([
    ['loopback literal', 'http://127.0.0.1/'],
    ['loopback literal with port', 'http://127.0.0.1:8080/admin'],
    ['loopback in another spelling', 'http://2130706433/'],
    ['IPv6 loopback', 'http://[::1]/'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['10/8', 'http://10.1.2.3/'],
    ['172.16/12', 'https://172.16.5.4/'],
    ['192.168/16', 'http://192.168.0.1/'],
    ['CGNAT', 'http://100.64.0.1/'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/'],
    ['unique local IPv6', 'http://[fc00::1]/'],
    ['unspecified', 'http://0.0.0.0/'],
  ])('refuses a %s address (%s)', async (_label, url) => {
    await expectToolError(fetcher.fetchText(url), 'fetch_refused', /not a public internet address/);
  });

  it.each([
    ['intranet.test', '10.0.0.5'],
    ['metadata.test', '169.254.169.254'],
    ['mapped.test', '::ffff:192.168.1.1'],
  ])('refuses %s, which resolves to %s', async (host, ip) => {
    await expectToolError(fetcher.fetchText(`http://${host}/`), 'fetch_refused', new RegExp(`resolves to ${ip.replace(/\./g, '\\.')}`));
  });

  it('refuses a host when any one of its addresses is private', async () => {
    await expectToolError(fetcher.fetchText('https://mixed.test/'), 'fetch_refused', /10\.0\.0\.5/);
  });

  it('refuses localhost through the real resolver', async () => {
    await expectToolError(createSafeFetcher().fetchText(`http://localhost:${port}/page`), 'fetch_refused');
    expect(requests).toEqual([]);
  });

  it('refuses the loopback test server itself with the default address check', async () => {
    await expectToolError(fetcher.fetchText(`http://127.0.0.1:${port}/page`), 'fetch_refused');
    await expectToolError(fetcher.fetchText(`http://public.test:${port}/page`), 'fetch_refused');
    expect(requests).toEqual([]);
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/file.txt', 'gopher://example.com/', 'data:text/plain,hi', 'javascript:alert(1)'])(
    'refuses the non-http URL %s',
    async (url) => {
      await expectToolError(fetcher.fetchText(url), 'fetch_refused', /Only http and https/);
    },
  );

  it('refuses URLs with credentials and things that are not URLs', async () => {
    await expectToolError(fetcher.fetchText('http://user:pw@public.test/'), 'fetch_refused', /user name or password/);
    await expectToolError(fetcher.fetchText('not a url'), 'fetch_refused', /not a valid absolute URL/);
  });

  it('reports a name that does not resolve as a failure, not a refusal', async () => {
    await expectToolError(fetcher.fetchText('http://nowhere.test/'), 'fetch_failed', /Could not resolve the host name nowhere\.test/);
  });

  it('never lets an injected resolver answer with garbage', async () => {
    const weird = createSafeFetcher({ resolve: async () => ['not-an-ip'], addressAllowed: () => true });
    await expectToolError(weird.fetchText('http://public.test/'), 'fetch_refused');
  });
});

describe('createSafeFetcher: fetching from the loopback test server', () => {
  it('reduces HTML to title and text, connecting to the checked address with the original Host', async () => {
    let lookups = 0;
    const fetcher = createSafeFetcher({
      addressAllowed: onlyLoopbackServer,
      // A second answer would be a rebinding attempt; the fetch must not ask again.
      resolve: async (host) => (lookups++ === 0 ? fakeResolve(host) : ['10.0.0.5']),
    });
    const page = await fetcher.fetchText(`http://public.test:${port}/page#section`);
    expect(page).toEqual({
      url: `http://public.test:${port}/page`,
      status: 200,
      contentType: 'text/html',
      title: 'Quarterly & Annual Report',
      text: 'Revenue\n\nUp 12% on last year.\n\nNorth\nSouth',
      truncated: false,
    });
    expect(lookups).toBe(1);
    // public.test exists only in the fake resolver, so reaching the server proves the pinned address was used.
    expect(requests).toEqual([{ path: '/page', host: `public.test:${port}` }]);
  });

  it('returns plain text, JSON, gzip and latin-1 bodies as text', async () => {
    const fetcher = loopbackFetcher();
    expect(await fetcher.fetchText(`http://public.test:${port}/plain`)).toMatchObject({ text: 'just text', contentType: 'text/plain' });
    expect(await fetcher.fetchText(`http://public.test:${port}/json`)).toMatchObject({ text: '{"ok":true}', contentType: 'application/json' });
    expect((await fetcher.fetchText(`http://public.test:${port}/gzip`)).text).toBe('unzipped text');
    expect((await fetcher.fetchText(`http://public.test:${port}/latin1`)).text).toBe('café');
  });

  it('follows a redirect and reports the final URL', async () => {
    const page = await loopbackFetcher().fetchText(`http://public.test:${port}/to-page`);
    expect(page.url).toBe(`http://public.test:${port}/page`);
    expect(page.title).toBe('Quarterly & Annual Report');
    expect(requests.map((r) => r.path)).toEqual(['/to-page', '/page']);
  });

  it('re-checks every redirect hop: a redirect to a private host is refused', async () => {
    await expectToolError(loopbackFetcher().fetchText(`http://public.test:${port}/to-intranet`), 'fetch_refused', /intranet\.test resolves to 10\.0\.0\.5/);
    await expectToolError(loopbackFetcher().fetchText(`http://public.test:${port}/to-metadata`), 'fetch_refused', /169\.254\.169\.254/);
    await expectToolError(loopbackFetcher().fetchText(`http://public.test:${port}/to-file`), 'fetch_refused', /Only http and https/);
  });

  it('stops after too many redirects', async () => {
    await expectToolError(loopbackFetcher({ maxRedirects: 3 }).fetchText(`http://public.test:${port}/loop`), 'fetch_failed', /Stopped after 3 redirects/);
    expect(requests).toHaveLength(4);
  });

  it('truncates a body larger than the byte limit', async () => {
    const page = await loopbackFetcher({ maxBytes: 1000 }).fetchText(`http://public.test:${port}/big`);
    expect(page.truncated).toBe(true);
    expect(page.text).toBe('a'.repeat(1000));
  });

  it('stops reading an endless body at the limit', async () => {
    const page = await loopbackFetcher({ maxBytes: 100_000 }).fetchText(`http://public.test:${port}/endless`);
    expect(page.truncated).toBe(true);
    expect(page.text).toHaveLength(100_000);
  });

  it('times out on a server that never answers', async () => {
    const started = Date.now();
    await expectToolError(loopbackFetcher({ timeoutMs: 300 }).fetchText(`http://public.test:${port}/hang`), 'fetch_failed', /Timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('times out on a body that never ends', async () => {
    await expectToolError(loopbackFetcher({ timeoutMs: 300 }).fetchText(`http://public.test:${port}/hang-body`), 'fetch_failed', /Timed out/);
  });

  it('can be cancelled by the caller', async () => {
    const controller = new AbortController();
    const pending = loopbackFetcher().fetchText(`http://public.test:${port}/hang`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expectToolError(pending, 'fetch_failed', /cancelled/);
  });

  it('refuses content that is not text', async () => {
    await expectToolError(loopbackFetcher().fetchText(`http://public.test:${port}/image`), 'fetch_refused', /image\/png/);
  });

  it('returns an HTTP error status instead of throwing', async () => {
    const fetcher = loopbackFetcher();
    expect(await fetcher.fetchText(`http://public.test:${port}/missing`)).toMatchObject({ status: 404, text: 'Not here' });
    expect(await fetcher.fetchText(`http://public.test:${port}/gone-binary`)).toMatchObject({ status: 410, text: '' });
  });

  it('reports a refused connection as a failure', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expectToolError(loopbackFetcher().fetchText(`http://public.test:${closedPort}/`), 'fetch_failed', /connection was refused/);
  });
});
