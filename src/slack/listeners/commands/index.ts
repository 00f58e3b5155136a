import type { App } from '@slack/bolt';
import type { SlackServices } from '../../services.js';
import { agentCommand } from './agent.js';

export function registerCommands(app: App, services: SlackServices): void {
  app.command('/agent', agentCommand(services));
}
