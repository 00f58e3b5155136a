import { Assistant, type App } from '@slack/bolt';
import type { SlackServices } from '../../services.js';
import { onAssistantThreadStarted } from './assistantThread.js';
import { onPersonMessage, type EventArgs } from './personMessage.js';

/**
 * Mentions, DMs and thread replies (see src/agent/threads.ts):
 * - `app_mention`: a mention in a channel starts a run, or steers the run of the thread it is in;
 * - `message` in the app's DM (`message.im`): a top-level message starts a run; thread replies arrive
 *   through Bolt's Assistant middleware (it claims every DM message inside a thread, on the AI surface
 *   or not) and continue the thread's run;
 * - `assistant_thread_started`: a thread opened on the AI surface (status and suggested prompts).
 */
export function registerConversationEvents(app: App, services: SlackServices): void {
  app.event('app_mention', async (args) => onPersonMessage(services, args as unknown as EventArgs, 'channel'));
  app.assistant(
    new Assistant({
      // Bolt's default store reads and edits thread messages directly; the app keeps no channel context.
      threadContextStore: { get: async () => ({}), save: async () => undefined },
      threadStarted: async (args) => onAssistantThreadStarted(services, args),
      threadContextChanged: async () => undefined,
      userMessage: async (args) => onPersonMessage(services, args as unknown as EventArgs, 'dm'),
    }),
  );
  app.event('message', async (args) => onPersonMessage(services, args as unknown as EventArgs, 'dm'));
}
