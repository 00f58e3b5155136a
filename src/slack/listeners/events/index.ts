import type { App } from '@slack/bolt';
import type { SlackServices } from '../../services.js';
import { appUninstalledEvent } from './appUninstalled.js';
import { tokensRevokedEvent } from './tokensRevoked.js';
import { registerConversationEvents } from './conversations.js';
import { appHomeOpenedEvent } from './appHome.js';

/** Events API (POST /slack/events, or Socket Mode): Bolt acks events itself, before the listener runs. */
export function registerEvents(app: App, services: SlackServices): void {
  app.event('app_uninstalled', appUninstalledEvent(services));
  app.event('tokens_revoked', tokensRevokedEvent(services));
  app.event('app_home_opened', appHomeOpenedEvent(services));
  registerConversationEvents(app, services);
}
