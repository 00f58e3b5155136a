import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { Readable } from 'node:stream';
import { AppError, errorMessage, OutcomeUnknownError, ToolError } from '../errors.js';

/** One plain-text message, already decided and approved: the mailer sends exactly this. */
export interface OutgoingMail {
  from: { name?: string; address: string };
  to: string[];
  cc?: string[];
  subject: string;
  text: string;
  /** Full Message-ID including angle brackets, derived by the caller so receivers can de-duplicate. */
  messageId: string;
  headers?: Record<string, string>;
}

export interface SentMail {
  messageId: string;
  accepted: string[];
  rejected: string[];
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<SentMail>;
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * SMTP connector over nodemailer. A send either succeeds (the relay answered 250 to the message), fails
 * with a ToolError when nothing can have been delivered, or throws OutcomeUnknownError when the whole
 * message went out and no answer came back.
 */
export function createSmtpMailer(smtpUrl: string, opts: { timeoutMs?: number } = {}): Mailer {
  const secret = passwordOf(smtpUrl);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // nodemailer's defaults wait minutes (2 min connect, 10 min idle): a stuck relay would hold the run's
  // dispatch that long, so every phase gets the same bounded timeout.
  // A small pool keeps a warm connection: after a click the mail goes out without paying the server's
  // connect and greeting delay again (many relays hold the greeting back on purpose).
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 3,
    url: smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    logger: false,
    debug: false,
  });

  // Whether a failed send can be called "not sent" depends on how far the session got, which nodemailer's
  // errors do not say: a connection closed while the server should be answering MAIL FROM and one closed
  // after the whole message are both ECONNECTION / CONN. So each send watches its own message stream:
  // nodemailer pipes that stream into the DATA phase and writes the terminating "." only once the stream
  // has ended. Before that end, the server cannot have accepted the message (a mail transaction only
  // completes with the final "."); after it, only the server's reply can tell. A connection lost between
  // the "." and the reply is the classic duplicate-mail window (RFC 1047): retrying would send it twice.
  transport.use('stream', (sending, done) => {
    const probe = (sending.data as ProbedOptions)[PROBE_KEY];
    if (probe) {
      sending.message.processFunc((stream: Readable) => {
        // Registered before nodemailer pipes the stream, so this runs before the "." is written. A stream
        // the pool throws away unread (to resend over a fresh connection) never ends, and that is right.
        stream.once('end', () => {
          probe.payloadSent = true;
        });
        return stream;
      });
    }
    done();
  });

  return {
    async send(mail) {
      const probe: PayloadProbe = { payloadSent: false };
      const options: ProbedOptions = {
        from: mail.from.name ? { name: mail.from.name, address: mail.from.address } : mail.from.address,
        to: mail.to,
        ...(mail.cc && mail.cc.length > 0 ? { cc: mail.cc } : {}),
        subject: mail.subject,
        text: mail.text,
        messageId: mail.messageId,
        ...(mail.headers ? { headers: mail.headers } : {}),
        // Plain text only (no HTML alternative), and quoted-printable rather than base64 so the raw
        // message stays readable in a relay's logs or a bounce.
        textEncoding: 'quoted-printable',
        [PROBE_KEY]: probe,
      };
      try {
        const info = await transport.sendMail(options);
        return {
          messageId: info.messageId,
          accepted: info.accepted.map(addressText),
          rejected: info.rejected.map(addressText),
        };
      } catch (err) {
        const unknown = probe.payloadSent ? unknownOutcome(err, timeoutMs) : undefined;
        if (unknown !== undefined) throw new OutcomeUnknownError('email_outcome_unknown', redact(unknown, secret));
        throw new ToolError('email_failed', redact(describeNotSent(err), secret));
      }
    },
    close() {
      transport.close();
    },
  };
}

/** Set on the message options of one send, and read back by the stream plugin (nodemailer copies own keys). */
const PROBE_KEY = 'agentApprovalsPayloadProbe';
interface PayloadProbe {
  /** True once the whole message was handed to the DATA phase; nodemailer writes the final "." right after. */
  payloadSent: boolean;
}
type ProbedOptions = Mail.Options & { [PROBE_KEY]?: PayloadProbe };

/** Recipients come back as strings or `{ address }` objects depending on the code path. */
function addressText(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && 'address' in a) return String((a as { address: unknown }).address);
  return String(a);
}

interface NodemailerError {
  code?: string;
  /** The system error's own code (ECONNREFUSED...) when nodemailer replaced `code` with its own. */
  originalCode?: string;
  command?: string;
  response?: string;
  responseCode?: number;
  message?: string;
}

/**
 * After the whole message was sent: a reply of 4xx/5xx to the final "." is the server refusing the mail
 * (failed, nothing delivered). No reply at all (a closed or reset connection, a timeout) leaves it
 * unknown: the relay may have queued the mail just before the connection went. Returns the reason, or
 * undefined when the server did refuse.
 */
function unknownOutcome(err: unknown, timeoutMs: number): string | undefined {
  const e = (err && typeof err === 'object' ? err : {}) as NodemailerError;
  if (e.responseCode !== undefined && e.responseCode >= 400) return undefined;
  if (e.code === 'ETIMEDOUT') {
    const waited = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
    return `the mail server did not confirm receipt within ${waited} after the whole message had been sent to it`;
  }
  return `the connection to the mail server was lost after the whole message had been sent to it, before it confirmed receipt (${errorMessage(err)})`;
}

/** Failures known to have sent nothing, as a sentence the model (and the activity log) can act on. */
function describeNotSent(err: unknown): string {
  const e = (err && typeof err === 'object' ? err : {}) as NodemailerError;
  const message = errorMessage(err);
  const said = e.response ? ` Server said: ${e.response.trim()}` : ` (${message})`;
  if (e.code === 'EDNS' || (e.originalCode !== undefined && CONNECT_FAILURES.has(e.originalCode))) {
    return `Email not sent: could not connect to the mail server (${message}).`;
  }
  if (e.responseCode === 530) return `Email not sent: the mail server requires a login.${said}`;
  switch (e.code) {
    case 'ETIMEDOUT':
      return `Email not sent: the mail server stopped answering before the message was sent (${message}).`;
    case 'ECONNECTION':
    case 'ESOCKET':
    case 'ETLS':
      return `Email not sent: the connection to the mail server failed before the message was sent (${message}).`;
    case 'EAUTH':
      return `Email not sent: the mail server refused the login.${said}`;
    case 'EENVELOPE':
      return `Email not sent: the mail server rejected the recipients or sender.${said}`;
    case 'EMESSAGE':
      return `Email not sent: the mail server rejected the message.${said}`;
    default: {
      const alreadySaid = e.response === undefined || message.includes(e.response.trim());
      return `Email not sent: ${message}${alreadySaid ? '' : said}`;
    }
  }
}

/** System error codes of a connection that never opened (nodemailer keeps them as originalCode). */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

function passwordOf(smtpUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw new AppError('config_invalid', 'SMTP_URL is not a valid URL (expected smtp://user:pass@host:587)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new AppError('config_invalid', `SMTP_URL must start with smtp:// or smtps://, got ${url.protocol}//`);
  }
  if (!url.password) return undefined;
  try {
    return decodeURIComponent(url.password);
  } catch {
    return url.password;
  }
}

/** Error texts are stored and shown to the model: make sure the relay password can never be among them. */
function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text.split(secret).join('***');
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) out = out.split(encoded).join('***');
  return out;
}
