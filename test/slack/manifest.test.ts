import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The manifest is what operators paste into Slack: it must subscribe to every event the app listens for
// and ask for the scopes those events and the app's calls need.
const manifest = JSON.parse(readFileSync(new URL('../../manifest.json', import.meta.url), 'utf8')) as {
  features: { app_home?: { home_tab_enabled?: boolean; messages_tab_enabled?: boolean; messages_tab_read_only_enabled?: boolean }; assistant_view?: unknown };
  oauth_config: { scopes: { bot: string[] } };
  settings: { event_subscriptions?: { request_url?: string; bot_events?: string[] }; interactivity: { request_url: string } };
};

describe('manifest.json', () => {
  it('subscribes to mentions, DMs and AI-surface threads at the same request URL as interactivity', () => {
    const events = manifest.settings.event_subscriptions;
    expect(events?.bot_events).toEqual(expect.arrayContaining(['app_mention', 'message.im', 'assistant_thread_started', 'assistant_thread_context_changed']));
    expect(events?.request_url).toBe(manifest.settings.interactivity.request_url);
    // Every message in every channel is not the app's business: thread replies to it carry a mention.
    expect(events?.bot_events).not.toContain('message.channels');
    expect(events?.bot_events).not.toContain('message.groups');
  });

  it('asks for the scopes those events and calls need', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining(['app_mentions:read', 'im:history', 'im:write', 'channels:history', 'groups:history', 'assistant:write', 'chat:write']),
    );
  });

  it('lets people write to the app in its Messages tab, with the AI surface on', () => {
    expect(manifest.features.app_home).toMatchObject({ messages_tab_enabled: true, messages_tab_read_only_enabled: false });
    expect(manifest.features.assistant_view).toBeDefined();
  });

  it('has the App Home tab ("Waiting for you") and the event that publishes it', () => {
    expect(manifest.features.app_home?.home_tab_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions?.bot_events).toContain('app_home_opened');
    // conversations.members (who may see a run in the Home tab) needs the channel read scopes.
    expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['channels:read', 'groups:read']));
  });
});
