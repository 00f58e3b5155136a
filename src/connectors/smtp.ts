import nodemailer from 'nodemailer';
import { AppError, errorMessage, ToolError } from '../errors.js';

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
 * SMTP connector over nodemailer. One connection per message (no pool): emails are rare and approved
 * one by one, and a pool would keep idle sockets open to the relay for nothing.
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

  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({
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
        });
        return {
          messageId: info.messageId,
          accepted: info.accepted.map(addressText),
          rejected: info.rejected.map(addressText),
        };
      } catch (err) {
        throw new ToolError('email_failed', redact(describeSmtpError(err), secret));
      }
    },
    close() {
      transport.close();
    },
  };
}

/** Recipients come back as strings or `{ address }` objects depending on the code path. */
function addressText(a: unknown): string {
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object' && 'address' in a) return String((a as { address: unknown }).address);
  return String(a);
}

interface NodemailerError {
  code?: string;
  command?: string;
  response?: string;
  responseCode?: number;
  message?: string;
}

/** A sentence the model (and the activity log) can act on: what failed, and the server's own words. */
function describeSmtpError(err: unknown): string {
  const e = (err && typeof err === 'object' ? err : {}) as NodemailerError;
  const message = errorMessage(err);
  const said = e.response ? ` Server said: ${e.response.trim()}` : ` (${message})`;
  // Failures before the session started (refused, DNS, connect timeout) are known not to have sent.
  if (e.command === 'CONN' || e.code === 'ECONNECTION' || e.code === 'EDNS') {
    return `Email not sent: could not connect to the mail server (${message}).`;
  }
  if (e.responseCode === 530) return `Email not sent: the mail server requires a login.${said}`;
  switch (e.code) {
    case 'ETIMEDOUT':
    case 'ESOCKET':
      // A dropped or stalled session after DATA may come after the server already took the message.
      return `Email may not have been sent: the connection to the mail server failed (${message}).`;
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
