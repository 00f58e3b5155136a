import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpMailer } from '../../src/connectors/smtp.js';
import type { Mailer, OutgoingMail } from '../../src/connectors/smtp.js';
import { AppError, OutcomeUnknownError } from '../../src/errors.js';
import { ToolError } from '../../src/tools/types.js';
import { startSmtpServer } from '../helpers/smtpServer.js';
import type { SmtpTestServer } from '../helpers/smtpServer.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(opts?: Parameters<typeof startSmtpServer>[0]): Promise<SmtpTestServer> {
  const s = await startSmtpServer(opts);
  cleanups.push(() => s.close());
  return s;
}

function mailer(url: string, timeoutMs?: number): Mailer {
  const m = createSmtpMailer(url, timeoutMs === undefined ? {} : { timeoutMs });
  cleanups.push(() => m.close());
  return m;
}

function mail(overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    from: { name: 'Alice Doe', address: 'alice@acme.com' },
    to: ['sarah@acme.com'],
    subject: 'Re: Q2 report',
    text: 'Hi Sarah,\n\nThe numbers are attached.\n\nAlice',
    messageId: '<act-1@agent-approvals.test>',
    ...overrides,
  };
}

/** A port nothing listens on: bind one, then release it. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function sendError(m: Mailer, message: OutgoingMail): Promise<ToolError> {
  const err = await m.send(message).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  expect((err as ToolError).code).toBe('email_failed');
  return err as ToolError;
}

describe('createSmtpMailer', () => {
  it('delivers From, To, Cc, Subject, body and the given Message-ID', async () => {
    const s = await server();
    const result = await mailer(s.url).send(mail({ cc: ['bob@acme.com', 'carol@acme.com'] }));

    expect(result).toEqual({
      messageId: '<act-1@agent-approvals.test>',
      accepted: ['sarah@acme.com', 'bob@acme.com', 'carol@acme.com'],
      rejected: [],
    });
    const [received] = await s.waitForMail(1);
    expect(received!.envelopeFrom).toBe('alice@acme.com');
    expect(received!.envelopeTo).toEqual(['sarah@acme.com', 'bob@acme.com', 'carol@acme.com']);
    expect(received!.headers).toEqual({
      from: 'Alice Doe <alice@acme.com>',
      to: 'sarah@acme.com',
      cc: 'bob@acme.com, carol@acme.com',
      subject: 'Re: Q2 report',
      messageId: '<act-1@agent-approvals.test>',
    });
    expect(received!.text).toBe('Hi Sarah,\n\nThe numbers are attached.\n\nAlice');
  });

  it('sends a bare address when the sender has no name, and no Cc header without cc', async () => {
    const s = await server();
    await mailer(s.url).send(mail({ from: { address: 'alice@acme.com' } }));
    const [received] = await s.waitForMail(1);
    expect(received!.headers.from).toBe('alice@acme.com');
    expect(received!.headers.cc).toBeUndefined();
  });

  it('keeps non-ASCII names and subjects and long lines intact', async () => {
    const s = await server();
    const text = `Grüße ${'x'.repeat(300)}\nLine = two ™`;
    await mailer(s.url).send(
      mail({ from: { name: 'Zoë Müller, Jr.', address: 'zoe@acme.com' }, subject: 'Budget für Q3 — ' + 'é'.repeat(120), text }),
    );
    const [received] = await s.waitForMail(1);
    expect(received!.headers.from).toBe('Zoë Müller, Jr. <zoe@acme.com>');
    expect(received!.headers.subject).toBe('Budget für Q3 — ' + 'é'.repeat(120));
    expect(received!.text).toBe(text);
    // The wire format is folded/encoded: the test server really had to decode it.
    expect(received!.raw).not.toContain('Grüße');
  });

  it('reports recipients the server refused while others were accepted', async () => {
    const s = await server({ rejectRecipients: ['gone@acme.com'] });
    const result = await mailer(s.url).send(mail({ to: ['sarah@acme.com', 'gone@acme.com'] }));
    expect(result.accepted).toEqual(['sarah@acme.com']);
    expect(result.rejected).toEqual(['gone@acme.com']);
    const [received] = await s.waitForMail(1);
    expect(received!.envelopeTo).toEqual(['sarah@acme.com']);
  });

  it('throws email_failed with the server response when every recipient is rejected', async () => {
    const s = await server({ rejectRecipients: ['gone@acme.com'] });
    const err = await sendError(mailer(s.url), mail({ to: ['gone@acme.com'] }));
    expect(err.message).toMatch(/rejected/);
    expect(err.message).toContain('550');
    expect(err.message).toContain('gone@acme.com');
    expect(s.mails).toHaveLength(0);
  });

  it('throws a clear email_failed error when the connection is refused', async () => {
    const port = await closedPort();
    const err = await sendError(mailer(`smtp://127.0.0.1:${port}`), mail());
    expect(err.message).toMatch(/^Email not sent: could not connect to the mail server/);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('gives up on a server that never greets within the timeout', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket)); // accepts, never says 220
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const { port } = silent.address() as AddressInfo;

    const started = Date.now();
    const err = await sendError(mailer(`smtp://127.0.0.1:${port}`, 300), mail());
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.message).toMatch(/^Email not sent/);
  });

  it('reports a connection cut after the whole message was received (no 250) as outcome unknown, never as "not sent"', async () => {
    const s = await server({ dropConnection: 'after_data' });
    const err = await mailer(s.url).send(mail()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect(err).not.toBeInstanceOf(ToolError);
    expect((err as OutcomeUnknownError).code).toBe('email_outcome_unknown');
    expect((err as OutcomeUnknownError).reason).toMatch(/after the whole message had been sent to it/);
    expect((err as OutcomeUnknownError).reason).not.toMatch(/not sent|could not connect/i);
    // The relay really has the mail, and the sender did not try a second time.
    expect(s.mails).toHaveLength(1);
    expect(s.dataAttempts()).toBe(1);
  });

  it('reports a server that takes the whole message and never answers as outcome unknown after the timeout', async () => {
    const s = await server({ stallData: true });
    // Long enough to get through connect, greeting and envelope on a busy machine; then it is waited out.
    const err = await mailer(s.url, 2_000).send(mail()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect((err as OutcomeUnknownError).reason).toMatch(/did not confirm receipt within 2 s after the whole message had been sent/);
    expect(s.dataAttempts()).toBe(1);
  });

  it('reports a message the server refuses after receiving it (554 to the final ".") as "not sent", not unknown', async () => {
    const s = await server({ rejectDataWith: 554 });
    const err = await sendError(mailer(s.url), mail());
    expect(err.message).toMatch(/^Email not sent: the mail server rejected the message\. Server said: 554/);
    expect(s.dataAttempts()).toBe(1);
  });

  it.each(['mail_from', 'rcpt_to'] as const)('reports a connection cut at %s (before any message data) as "not sent"', async (stage) => {
    const s = await server({ dropConnection: stage });
    const err = await sendError(mailer(s.url), mail());
    expect(err.message).toMatch(/^Email not sent: /);
    expect(err.message).not.toMatch(/may/);
    expect(s.dataAttempts()).toBe(0);
    expect(s.mails).toHaveLength(0);
  });

  it('logs in with credentials from the URL', async () => {
    const s = await server({ requireAuth: { user: 'agent-bot', pass: 's3cr3t/p@ss' } });
    expect(s.url).toMatch(/^smtp:\/\/agent-bot:s3cr3t%2Fp%40ss@127\.0\.0\.1:\d+$/);
    await mailer(s.url).send(mail());
    const [received] = await s.waitForMail(1);
    expect(received!.headers.subject).toBe('Re: Q2 report');
  });

  it('fails with email_failed on a wrong password and never echoes the password', async () => {
    const s = await server({ requireAuth: { user: 'agent-bot', pass: 'right-one' } });
    const err = await sendError(mailer(`smtp://agent-bot:Wrong%2Fpass@127.0.0.1:${s.port}`), mail());
    expect(err.message).toMatch(/refused the login/);
    expect(err.message).toContain('535');
    expect(err.message).not.toContain('Wrong/pass');
    expect(err.message).not.toContain('Wrong%2Fpass');
  });

  it('fails with email_failed when the server requires a login and none is configured', async () => {
    const s = await server({ requireAuth: { user: 'agent-bot', pass: 'right-one' } });
    const err = await sendError(mailer(`smtp://127.0.0.1:${s.port}`), mail());
    expect(err.message).toMatch(/requires a login/);
    expect(s.mails).toHaveLength(0);
  });

  it('rejects a URL that is not smtp:// or smtps:// at construction', () => {
    expect(() => createSmtpMailer('http://mail.acme.com')).toThrow(AppError);
    expect(() => createSmtpMailer('not a url')).toThrow(/SMTP_URL/);
  });
});
