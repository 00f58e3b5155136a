import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../../errors.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for workspace tokens at rest (SLACK_TOKEN_ENCRYPTION_KEY). Each value is bound to its row
 * (`context`, e.g. the team id) as associated data: a ciphertext copied onto another workspace's row does
 * not decrypt, so a database-level mix-up can never hand one workspace another's token.
 */
export class TokenCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new AppError('config_invalid', 'SLACK_TOKEN_ENCRYPTION_KEY must be 32 bytes');
  }

  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Throws AppError('invalid_state') for a value that was not encrypted with this key for this context. */
  decrypt(sealed: string, context: string): string {
    const [version, iv, tag, body, ...rest] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || body === undefined || rest.length > 0) {
      throw new AppError('invalid_state', 'A stored Slack token is not in a format this app wrote');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // Wrong key (SLACK_TOKEN_ENCRYPTION_KEY changed) or a tampered/misplaced value: never a partial result.
      throw new AppError('invalid_state', 'A stored Slack token cannot be decrypted: SLACK_TOKEN_ENCRYPTION_KEY differs from the one it was stored with, or the row was altered. Reinstall the app in that workspace.');
    }
  }
}
