import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createSmtpMailer } from '../../src/connectors/smtp.js';
import type { Mailer } from '../../src/connectors/smtp.js';
import { createSendEmailTool, sendEmailInputSchema } from '../../src/tools/sendEmail.js';
import type { SendEmailDeps, SendEmailInput } from '../../src/tools/sendEmail.js';
import type { PrepareContext, ToolRunContext, ToolRunInfo } from '../../src/tools/types.js';
import { startSmtpServer } from '../helpers/smtpServer.js';
import type { SmtpTestServer } from '../helpers/smtpServer.js';

const run: ToolRunInfo = { id: 'r-7k3qx9', teamId: 'T1', channelId: 'C1', threadTs: '1700000000.000100', requesterId: 'U1' };
const prepareCtx: PrepareContext = { run };
const alice = { name: 'Alice Doe', email: 'alice@acme.com' };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function smtp(opts?: Parameters<typeof startSmtpServer>[0]): Promise<{ server: SmtpTestServer; mailer: Mailer }> {
  const server = await startSmtpServer(opts);
  const mailer = createSmtpMailer(server.url);
  cleanups.push(() => server.close(), () => mailer.close());
  return { server, mailer };
}

function tool(overrides: Partial<SendEmailDeps> & Pick<SendEmailDeps, 'mailer'>) {
  return createSendEmailTool({ lookupSender: async () => alice, ...overrides });
}

function input(overrides: Partial<SendEmailInput> = {}): SendEmailInput {
  return { to: 'sarah@acme.com', subject: 'Re: Q2 report', body: 'Hi Sarah,\n\nFigures attached.\n\nAlice', ...overrides };
}

/** prepare() output goes through JSON (it is stored in SQLite) before run() sees it. */
function runCtx(prepared: Record<string, unknown>, actionId = 'a-01hx2k'): ToolRunContext {
  return { run, actionId, prepared: JSON.parse(JSON.stringify(prepared)) as Record<string, unknown>, approvedBy: "U_APPROVER" };
}

const unusedMailer: Mailer = {
  send: () => Promise.reject(new Error('mailer must not be called')),
  close: () => undefined,
};

describe('send_email input schema', () => {
  const parse = (value: unknown) => sendEmailInputSchema.safeParse(value);

  it('accepts one address or a list, with optional cc', () => {
    expect(parse(input()).success).toBe(true);
    expect(parse(input({ to: ['a@acme.com', 'b@acme.com'], cc: ['c@acme.com'] })).success).toBe(true);
  });

  it.each([
    ['a malformed to address', { to: 'sarah at acme' }],
    ['a display-name address', { to: 'Sarah <sarah@acme.com>' }],
    ['a malformed cc address', { cc: ['ok@acme.com', 'nope'] }],
    ['an empty to list', { to: [] }],
    ['an empty to string', { to: '' }],
    ['CRLF in the subject', { subject: 'Hello\r\nBcc: everyone@acme.com' }],
    ['LF in the subject', { subject: 'Hello\nX-Evil: 1' }],
    ['an empty subject', { subject: '' }],
    ['a subject over 300 characters', { subject: 's'.repeat(301) }],
    ['an empty body', { body: '' }],
    ['a body over 100000 characters', { body: 'b'.repeat(100_001) }],
  ])('rejects %s', (_name, overrides) => {
    expect(parse({ ...input(), ...overrides }).success).toBe(false);
  });

  it('rejects more than 50 recipients in To and Cc together, and allows exactly 50', () => {
    const addresses = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}@acme.com`);
    expect(parse(input({ to: addresses(51, 'to') })).success).toBe(false);
    expect(parse(input({ to: addresses(30, 'to'), cc: addresses(21, 'cc') })).success).toBe(false);
    expect(parse(input({ to: addresses(30, 'to'), cc: addresses(20, 'cc') })).success).toBe(true);
  });

  it('converts to a JSON Schema for the model', () => {
    const schema = z.toJSONSchema(sendEmailInputSchema) as { required?: string[] };
    expect(schema.required).toEqual(['to', 'subject', 'body']);
  });
});

describe('send_email prepare', () => {
  it('is a hard-floor tool named send_email', () => {
    const t = tool({ mailer: unusedMailer });
    expect(t.name).toBe('send_email');
    expect(t.hardFloor).toBe(true);
  });

  it("uses the requester's Slack name and email", async () => {
    const lookupSender = vi.fn(async () => alice);
    const prepared = await tool({ mailer: unusedMailer, lookupSender }).prepare!(input(), prepareCtx);
    expect(lookupSender).toHaveBeenCalledWith('T1', 'U1');
    expect(prepared).toEqual({ from: { name: 'Alice Doe', address: 'alice@acme.com' }, fromSource: 'requester' });
    expect(JSON.parse(JSON.stringify(prepared))).toEqual(prepared);
  });

  it('strips control characters from a profile name', async () => {
    const lookupSender = async () => ({ name: 'Alice\r\nBcc: x@evil.com', email: 'alice@acme.com' });
    const prepared = await tool({ mailer: unusedMailer, lookupSender }).prepare!(input(), prepareCtx);
    expect(prepared.from).toEqual({ name: 'Alice Bcc: x@evil.com', address: 'alice@acme.com' });
  });

  it('falls back to EMAIL_FROM when the requester has no email', async () => {
    const lookupSender = async () => ({ name: 'Alice Doe' });
    const named = await tool({ mailer: unusedMailer, lookupSender, emailFrom: 'Acme Agent <agent@acme.com>' }).prepare!(
      input(),
      prepareCtx,
    );
    expect(named).toEqual({ from: { name: 'Acme Agent', address: 'agent@acme.com' }, fromSource: 'shared' });

    const bare = await tool({ mailer: unusedMailer, lookupSender: async () => undefined, emailFrom: 'agent@acme.com' })
      .prepare!(input(), prepareCtx);
    expect(bare).toEqual({ from: { address: 'agent@acme.com' }, fromSource: 'shared' });
  });

  it('falls back to EMAIL_FROM when the profile email is not a valid address', async () => {
    const lookupSender = async () => ({ name: 'Alice', email: 'not-an-email' });
    const prepared = await tool({ mailer: unusedMailer, lookupSender, emailFrom: '"Acme, Inc." <agent@acme.com>' })
      .prepare!(input(), prepareCtx);
    expect(prepared).toEqual({ from: { name: 'Acme, Inc.', address: 'agent@acme.com' }, fromSource: 'shared' });
  });

  it('refuses (so no card is posted) when no sender is available', async () => {
    await expect(tool({ mailer: unusedMailer, lookupSender: async () => ({ name: 'Alice' }) }).prepare!(input(), prepareCtx)).rejects.toMatchObject({
      code: 'email_failed',
      message: expect.stringMatching(/no sender is configured/),
    });
  });

  it('refuses an unusable EMAIL_FROM instead of sending from it', async () => {
    await expect(tool({ mailer: unusedMailer, lookupSender: async () => undefined, emailFrom: 'Agent <nope>' }).prepare!(input(), prepareCtx)).rejects.toMatchObject({
      message: expect.stringMatching(/EMAIL_FROM/),
    });
  });
});

describe('send_email describe', () => {
  const t = tool({ mailer: unusedMailer });
  const prepared = { from: { name: 'Alice Doe', address: 'alice@acme.com' }, fromSource: 'requester' };

  it('describes a single recipient in plain words', () => {
    expect(t.describe(input(), prepared)).toEqual({
      summary: "Send email to sarah@acme.com, subject 'Re: Q2 report'",
      fields: [
        { label: 'To', value: ['sarah@acme.com'] },
        { label: 'Subject', value: 'Re: Q2 report' },
        { label: 'Sent as', value: 'Alice Doe <alice@acme.com>' },
      ],
      content: 'Hi Sarah,\n\nFigures attached.\n\nAlice',
      contentLabel: 'Email body',
    });
  });

  it('counts the other recipients and lists To and Cc', () => {
    const d = t.describe(input({ to: ['sarah@acme.com', 'tom@acme.com', 'uma@acme.com'], cc: ['boss@acme.com'] }), prepared);
    expect(d.summary).toBe("Send email to sarah@acme.com and 2 others, subject 'Re: Q2 report'");
    expect(d.fields).toEqual([
      { label: 'To', value: ['sarah@acme.com', 'tom@acme.com', 'uma@acme.com'] },
      { label: 'Cc', value: ['boss@acme.com'] },
      { label: 'Subject', value: 'Re: Q2 report' },
      { label: 'Sent as', value: 'Alice Doe <alice@acme.com>' },
    ]);
    expect(t.describe(input({ to: ['sarah@acme.com', 'tom@acme.com'] }), prepared).summary).toBe(
      "Send email to sarah@acme.com and 1 other, subject 'Re: Q2 report'",
    );
  });

  it('shows a bare address, or that no sender is configured', () => {
    const bare = t.describe(input(), { from: { address: 'agent@acme.com' }, fromSource: 'shared' });
    expect(bare.fields).toContainEqual({ label: 'Sent as', value: 'agent@acme.com' });
    const none = t.describe(input(), { from: null, fromSource: null, fromError: 'no sender is configured' });
    expect(none.fields).toContainEqual({ label: 'Sent as', value: 'no sender configured' });
  });
});

describe('send_email run (real SMTP)', () => {
  it('sends as the prepared sender with a Message-ID derived from the action id', async () => {
    const { server, mailer } = await smtp();
    const t = tool({ mailer, messageIdDomain: 'approvals.acme.com' });
    const call = input({ to: ['sarah@acme.com', 'tom@acme.com'], cc: ['boss@acme.com'] });
    const prepared = await t.prepare!(call, prepareCtx);

    const out = await t.run(call, runCtx(prepared));

    expect(out).toEqual({
      content: 'Email sent to sarah@acme.com, tom@acme.com, cc boss@acme.com (message id <a-01hx2k@approvals.acme.com>).',
    });
    const [mail] = await server.waitForMail(1);
    expect(mail!.envelopeFrom).toBe('alice@acme.com');
    expect(mail!.envelopeTo).toEqual(['sarah@acme.com', 'tom@acme.com', 'boss@acme.com']);
    expect(mail!.headers).toEqual({
      from: 'Alice Doe <alice@acme.com>',
      to: 'sarah@acme.com, tom@acme.com',
      cc: 'boss@acme.com',
      subject: 'Re: Q2 report',
      messageId: '<a-01hx2k@approvals.acme.com>',
    });
    expect(mail!.text).toBe('Hi Sarah,\n\nFigures attached.\n\nAlice');
  });

  it('uses the default Message-ID domain', async () => {
    const { server, mailer } = await smtp();
    const t = tool({ mailer });
    const out = await t.run(input(), runCtx(await t.prepare!(input(), prepareCtx), 'act-42'));
    expect(out).toEqual({ content: 'Email sent to sarah@acme.com (message id <act-42@agent-approvals.local>).' });
    expect((await server.waitForMail(1))[0]!.headers.messageId).toBe('<act-42@agent-approvals.local>');
  });

  it('sends as the sender bound at prepare time, even if the profile changed since', async () => {
    const { server, mailer } = await smtp();
    let profile: { name?: string; email?: string } = alice;
    const lookupSender = vi.fn(async () => profile);
    const t = tool({ mailer, lookupSender, emailFrom: 'Shared <shared@acme.com>' });
    const prepared = await t.prepare!(input(), prepareCtx);

    profile = { name: 'Mallory', email: 'mallory@evil.com' };
    await t.run(input(), runCtx(prepared));

    expect(lookupSender).toHaveBeenCalledTimes(1);
    const [mail] = await server.waitForMail(1);
    expect(mail!.headers.from).toBe('Alice Doe <alice@acme.com>');
    expect(mail!.envelopeFrom).toBe('alice@acme.com');
  });

  it('sends from the shared EMAIL_FROM sender when that is what was prepared', async () => {
    const { server, mailer } = await smtp();
    const t = tool({ mailer, lookupSender: async () => undefined, emailFrom: 'Acme Agent <agent@acme.com>' });
    await t.run(input(), runCtx(await t.prepare!(input(), prepareCtx)));
    expect((await server.waitForMail(1))[0]!.headers.from).toBe('Acme Agent <agent@acme.com>');
  });

  it('returns an error result and sends nothing when the bound sender is missing', async () => {
    const send = vi.fn(unusedMailer.send);
    const t = tool({ mailer: { ...unusedMailer, send }, lookupSender: async () => undefined });
    const out = await t.run(input(), runCtx({ from: null, fromSource: null, fromError: 'no sender is configured' }));
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^Email not sent: no sender is configured/);
    expect(send).not.toHaveBeenCalled();
  });

  it('returns an error result when the prepared data is missing or malformed', async () => {
    const send = vi.fn(unusedMailer.send);
    const t = tool({ mailer: { ...unusedMailer, send } });
    expect((await t.run(input(), runCtx({}))).isError).toBe(true);
    expect((await t.run(input(), runCtx({ from: { address: 'not mail' }, fromSource: 'shared' }))).isError).toBe(true);
    expect(send).not.toHaveBeenCalled();
  });

  it('returns an error result with the server response when the recipient is rejected', async () => {
    const { server, mailer } = await smtp({ rejectRecipients: ['gone@acme.com'] });
    const t = tool({ mailer });
    const call = input({ to: 'gone@acme.com' });
    const out = await t.run(call, runCtx(await t.prepare!(call, prepareCtx)));
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/^Email not sent: the mail server rejected/);
    expect(out.content).toContain('550');
    expect(server.mails).toHaveLength(0);
  });

  it('reports a partial rejection as sent, naming the refused recipient', async () => {
    const { server, mailer } = await smtp({ rejectRecipients: ['gone@acme.com'] });
    const t = tool({ mailer });
    const call = input({ to: ['sarah@acme.com', 'gone@acme.com'] });
    const out = await t.run(call, runCtx(await t.prepare!(call, prepareCtx)));
    expect(out.isError).toBeUndefined();
    expect(out.content).toMatch(/^Email sent to .* The server refused: gone@acme\.com\.$/);
    expect((await server.waitForMail(1))[0]!.envelopeTo).toEqual(['sarah@acme.com']);
  });

  it('returns an error result when the mail server is unreachable', async () => {
    const { server } = await smtp();
    const port = server.port;
    await server.close();
    const mailer = createSmtpMailer(`smtp://127.0.0.1:${port}`, { timeoutMs: 2_000 });
    cleanups.push(() => mailer.close());
    const t = tool({ mailer });
    const out = await t.run(input(), runCtx(await t.prepare!(input(), prepareCtx)));
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/could not connect to the mail server/);
  });

  it('lets unexpected (non-tool) errors propagate', async () => {
    const t = tool({ mailer: unusedMailer });
    await expect(t.run(input(), runCtx(await t.prepare!(input(), prepareCtx)))).rejects.toThrow('mailer must not be called');
  });
});
