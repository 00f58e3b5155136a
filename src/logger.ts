import { pino, type Logger } from 'pino';

export type { Logger };

/** Secrets never reach the log, even when a whole config or request object is logged by mistake. */
export const REDACT_PATHS = [
  'botToken',
  'appToken',
  'signingSecret',
  'apiKey',
  'token',
  'password',
  'authorization',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.apiKey',
  '*.token',
  '*.password',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'smtpUrl',
  '*.smtpUrl',
  'clientSecret',
  'stateSecret',
  'tokenEncryptionKey',
  'refreshToken',
  '*.clientSecret',
  '*.stateSecret',
  '*.tokenEncryptionKey',
  '*.refreshToken',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
