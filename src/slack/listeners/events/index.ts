import type { App } from '@slack/bolt';
import type { SlackServices } from '../../services.js';
import { registerConversationEvents } from './conversations.js';

/** Events API listeners, one concern per file. */
export function registerEvents(app: App, services: SlackServices): void {
  registerConversationEvents(app, services);
}
