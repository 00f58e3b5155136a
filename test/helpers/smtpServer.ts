import { SMTPServer } from 'smtp-server';
import type { SMTPServerError } from 'smtp-server';
import type { AddressInfo, Socket } from 'node:net';

/** What the test SMTP server received, with the headers tests care about and the body decoded. */
export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: string;
  headers: { from: string; to: string; cc?: string; subject: string; messageId: string };
  text: string;
}

export interface SmtpTestServer {
  /** smtp://127.0.0.1:PORT, or smtp://user:pass@127.0.0.1:PORT when auth is required. */
  url: string;
  port: number;
  mails: ReceivedMail[];
  /** How many times a client got as far as sending message data (stalled sends included). */
  dataAttempts(): number;
  waitForMail(count?: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** With `holdData`: answers the messages held so far (stored, 250), as if the relay were slow. */
  releaseHeld(): number;
  close(): Promise<void>;
}

export interface SmtpTestServerOptions {
  /** RCPT TO for these addresses (case-insensitive) is answered 550. */
  rejectRecipients?: string[];
  requireAuth?: { user: string; pass: string };
  /** Accept the message data but never answer it: the sender hangs mid-send (crash tests). */
  stallData?: boolean;
  /** Read the message data, then hold the answer until `releaseHeld()` (a send in flight for a while). */
  holdData?: boolean;
  /**
   * Cut the connection (no reply) at one stage of the session:
   * - `mail_from` / `rcpt_to`: when that command arrives, before any message data was sent;
   * - `after_data`: after the whole message, final "." included, was received and stored in `mails`,
   *   instead of answering 250 (the relay took the mail, the sender never hears so).
   */
  dropConnection?: 'mail_from' | 'rcpt_to' | 'after_data';
  /** Read the whole message, then refuse it with this reply code (e.g. 554) instead of 250; nothing is stored. */
  rejectDataWith?: number;
}

/**
 * A real SMTP server (the `smtp-server` package) on loopback, plain text only: STARTTLS is neither
 * advertised nor accepted, so nodemailer never tries to upgrade and no certificate is involved.
 */
export async function startSmtpServer(opts: SmtpTestServerOptions = {}): Promise<SmtpTestServer> {
  const mails: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const dataAttempts = { count: 0 };
  const held: Array<() => void> = [];
  const rejected = new Set((opts.rejectRecipients ?? []).map((a) => a.toLowerCase()));
  const auth = opts.requireAuth;
  // Client sockets by remote port, so a session can be cut from a handler (smtp-server does not expose them).
  const sockets = new Map<number, Socket>();
  const drop = (session: { remotePort: number }): void => {
    sockets.get(session.remotePort)?.destroy();
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !auth,
    // AUTH over a cleartext loopback socket is fine for tests; the real relay is the operator's concern.
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    // close() waits for clients to QUIT; don't let a stuck client hold a test file for the default 30 s.
    closeTimeout: 1_000,
    onAuth(credentials, _session, callback) {
      if (auth && credentials.username === auth.user && credentials.password === auth.pass) {
        callback(null, { user: credentials.username });
        return;
      }
      callback(smtpError('Invalid username or password', 535));
    },
    onMailFrom(_address, session, callback) {
      if (opts.dropConnection === 'mail_from') {
        drop(session);
        return;
      }
      callback();
    },
    onRcptTo(address, session, callback) {
      if (opts.dropConnection === 'rcpt_to') {
        drop(session);
        return;
      }
      if (rejected.has(address.address.toLowerCase())) {
        callback(smtpError(`Mailbox ${address.address} unavailable`, 550));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      dataAttempts.count += 1;
      if (opts.stallData) {
        // The client is expected to vanish mid-send (a killed process): its reset is not a test failure.
        stream.on('error', () => undefined);
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (opts.rejectDataWith !== undefined) {
          callback(smtpError('Message refused by policy', opts.rejectDataWith));
          return;
        }
        const accept = () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          mails.push(parseMessage(raw, envelopeFrom, session.envelope.rcptTo.map((r) => r.address)));
          for (const wake of waiters) wake();
          if (opts.dropConnection === 'after_data') {
            // The message is stored; the 250 that would tell the sender so never leaves.
            drop(session);
            return;
          }
          callback();
        };
        if (opts.holdData) held.push(accept);
        else accept();
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    // smtp-server reports client socket errors (resets from killed senders) here; they are expected in crash tests.
    server.on('error', () => undefined);
    server.server.on('connection', (socket: Socket) => {
      const port = socket.remotePort;
      if (port === undefined) return;
      sockets.set(port, socket);
      socket.once('close', () => sockets.delete(port));
    });
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';

  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    mails,
    dataAttempts: () => dataAttempts.count,
    releaseHeld() {
      const all = held.splice(0);
      for (const accept of all) accept();
      return all.length;
    },
    waitForMail(count = 1, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (mails.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(mails.slice());
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`Expected ${count} mail(s) within ${timeoutMs} ms, got ${mails.length}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function smtpError(message: string, responseCode: number): SMTPServerError {
  const err: SMTPServerError = new Error(message);
  err.responseCode = responseCode;
  return err;
}

/** Parses the single-part text messages nodemailer produces for plain-text mail. */
export function parseMessage(raw: string, envelopeFrom: string, envelopeTo: string[]): ReceivedMail {
  const normalized = raw.replace(/\r\n/g, '\n');
  const split = normalized.indexOf('\n\n');
  const head = split === -1 ? normalized : normalized.slice(0, split);
  // SMTP makes every message end with a line break, added by the client if the body lacked one, so the
  // last one is transport framing: drop it (a body that really ended with "\n" loses it too).
  const body = split === -1 ? '' : normalized.slice(split + 2).replace(/\n$/, '');

  // Unfold: a line starting with whitespace continues the previous header.
  const fields = new Map<string, string>();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  const header = (name: string): string => decodeWords(fields.get(name) ?? '');

  const cc = fields.get('cc');
  return {
    envelopeFrom,
    envelopeTo,
    raw,
    headers: {
      from: header('from'),
      to: header('to'),
      ...(cc !== undefined ? { cc: decodeWords(cc) } : {}),
      subject: header('subject'),
      messageId: header('message-id'),
    },
    text: decodeBody(body, (fields.get('content-transfer-encoding') ?? '7bit').toLowerCase()),
  };
}

function decodeBody(body: string, encoding: string): string {
  if (encoding === 'quoted-printable') {
    // Trailing whitespace was added in transit (real spaces there are encoded); `=` ends a soft break.
    return decodeQpBytes(body.replace(/[ \t]+$/gm, '').replace(/=\n/g, '')).toString('utf8');
  }
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

/** `=XX` is a byte, anything else stands for itself. Bytes are UTF-8 decoded by the caller. */
function decodeQpBytes(joined: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const ch = joined[i]!;
    const hex = joined.slice(i + 1, i + 3);
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (`=?UTF-8?Q?...?=` / `=?UTF-8?B?...?=`); whitespace between two of them is dropped. */
function decodeWords(value: string): string {
  const word = /=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g;
  return value.replace(/(=\?[^?]+\?[QqBb]\?[^?]*\?=)\s+(?==\?)/g, '$1').replace(word, (_m, _charset: string, enc: string, data: string) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString('utf8');
    return decodeQpBytes(data.replace(/_/g, ' ')).toString('utf8');
  });
}
