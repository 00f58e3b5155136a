import type { KnowledgeIndex } from '../connectors/knowledgeIndex.js';
import type { SafeFetcher } from '../connectors/safeFetch.js';
import type { Mailer } from '../connectors/smtp.js';
import { createCommentOnTaskTool, type ThreadPoster } from './commentOnTask.js';
import { createFetchUrlTool } from './fetchUrl.js';
import { ToolRegistry } from './registry.js';
import { createSearchKnowledgeBaseTool } from './searchKnowledgeBase.js';
import { createSendEmailTool } from './sendEmail.js';

export interface BuiltInToolDeps {
  knowledge: KnowledgeIndex;
  fetcher: SafeFetcher;
  thread: ThreadPoster;
  /** Undefined when SMTP_URL is not set: send_email is then not offered. */
  mailer: Mailer | undefined;
  emailFrom: string | undefined;
  lookupSender(teamId: string, userId: string): Promise<{ name?: string; email?: string } | undefined>;
}

/** The built-in tools whose connectors are configured; the rest are listed as unavailable. */
export function buildRegistry(deps: BuiltInToolDeps): ToolRegistry {
  const registry = new ToolRegistry();
  registry.register(createSearchKnowledgeBaseTool(deps.knowledge));
  registry.register(createFetchUrlTool(deps.fetcher));
  registry.register(createCommentOnTaskTool(deps.thread));
  if (deps.mailer) {
    registry.register(
      createSendEmailTool({
        mailer: deps.mailer,
        lookupSender: deps.lookupSender,
        ...(deps.emailFrom ? { emailFrom: deps.emailFrom } : {}),
      }),
    );
  } else {
    registry.markUnavailable('send_email', 'SMTP_URL is not set');
  }
  return registry;
}
