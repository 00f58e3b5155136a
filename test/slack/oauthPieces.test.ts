import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authorizationUrl, BOT_SCOPES, INSTALL_PATH, REDIRECT_PATH } from '../../src/slack/oauth/index.js';
import { TokenCipher } from '../../src/slack/oauth/tokenCipher.js';

describe('stored tokens are encrypted (AES-256-GCM)', () => {
  const key = Buffer.alloc(32, 3);
  const cipher = new TokenCipher(key);

  it('round-trips, with a fresh IV each time, and reads back only for the same workspace', () => {
    const a = cipher.encrypt('xoxb-secret-token', 'T1');
    const b = cipher.encrypt('xoxb-secret-token', 'T1');
    expect(a).not.toBe(b);
    expect(a).not.toContain('xoxb');
    expect(cipher.decrypt(a, 'T1')).toBe('xoxb-secret-token');
    expect(() => cipher.decrypt(a, 'T2')).toThrow(/cannot be decrypted/);
  });

  it('refuses another key, a changed byte and an unknown format', () => {
    const sealed = cipher.encrypt('xoxb-secret-token', 'T1');
    expect(() => new TokenCipher(Buffer.alloc(32, 4)).decrypt(sealed, 'T1')).toThrow(/cannot be decrypted/);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => cipher.decrypt([parts[0], parts[1], parts[2], body.toString('base64url')].join('.'), 'T1')).toThrow(/cannot be decrypted/);
    expect(() => cipher.decrypt('xoxb-plain', 'T1')).toThrow(/not in a format/);
    expect(() => new TokenCipher(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});

describe('the manifest matches what the app asks for and serves', () => {
  const manifest = JSON.parse(readFileSync(new URL('../../manifest.json', import.meta.url), 'utf8')) as {
    oauth_config: { redirect_urls: string[]; scopes: { bot: string[] } };
    settings: { event_subscriptions: { request_url: string; bot_events: string[] } };
  };

  it('asks for the manifest\'s bot scopes at install, redirects to /slack/oauth_redirect, subscribes to the removal events', () => {
    expect(BOT_SCOPES).toEqual(manifest.oauth_config.scopes.bot);
    expect(manifest.oauth_config.redirect_urls).toEqual([`https://YOUR-HOST${REDIRECT_PATH}`]);
    expect(INSTALL_PATH).toBe('/slack/install');
    expect(manifest.settings.event_subscriptions.request_url).toBe('https://YOUR-HOST/slack/events');
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(expect.arrayContaining(['app_uninstalled', 'tokens_revoked']));
  });

  it('sends people to the authorize page of the host SLACK_API_URL names', () => {
    expect(authorizationUrl(undefined)).toBe('https://slack.com/oauth/v2/authorize');
    expect(authorizationUrl('https://slack.com/api/')).toBe('https://slack.com/oauth/v2/authorize');
    expect(authorizationUrl('https://slack-gov.com/api')).toBe('https://slack-gov.com/oauth/v2/authorize');
    expect(authorizationUrl('http://127.0.0.1:4000/api/')).toBe('http://127.0.0.1:4000/oauth/v2/authorize');
    expect(authorizationUrl('https://proxy.example.com/slack')).toBe('https://slack.com/oauth/v2/authorize');
  });
});
