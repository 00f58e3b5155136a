import type { KnowledgeIndex } from '../connectors/knowledgeIndex.js';
import type { SafeFetcher } from '../connectors/safeFetch.js';
import type { Mailer } from '../connectors/smtp.js';
import { createCommentOnTaskTool, type ThreadPoster } from './commentOnTask.js';
import { createFetchUrlTool } from './fetchUrl.js';
import { ToolRegistry } from './registry.js';
import { createSearchKnowledgeBaseTool } from './searchKnowledgeBase.js';
import { createSendEmailTool } from './sendEmail.js';
import { createSetTaskStatusTool, createSubtaskTool, type TaskBoard } from './taskTools.js';
import { createSendWhatsappTool } from './sendWhatsapp.js';
import { createCrmGetDealTool, createCrmSearchTool, createUpdateDealStageTool } from './crm.js';
import type { WhatsAppClient } from '../connectors/whatsapp.js';
import { createDeleteScheduleTool, createPauseScheduleTool, createResumeScheduleTool, createScheduleRunTool, type ScheduleStore } from './schedules.js';
import type { HubSpotClient } from '../connectors/hubspot.js';

export interface BuiltInToolDeps {
  knowledge: KnowledgeIndex;
  fetcher: SafeFetcher;
  thread: ThreadPoster;
  /** Undefined when SMTP_URL is not set: send_email is then not offered. */
  mailer: Mailer | undefined;
  emailFrom: string | undefined;
  lookupSender(teamId: string, userId: string): Promise<{ name?: string; email?: string } | undefined>;
  /** `shared`: always EMAIL_FROM; `requester`: the requester's Slack profile, falling back to EMAIL_FROM. */
  emailSenderMode: 'requester' | 'shared';
  board: TaskBoard;
  whatsapp: WhatsAppClient | undefined;
  hubspot: HubSpotClient | undefined;
  schedules: ScheduleStore;
}

/** The built-in tools whose connectors are configured; the rest are listed as unavailable. */
export function buildRegistry(deps: BuiltInToolDeps): ToolRegistry {
  const registry = new ToolRegistry();
  registry.register(createSearchKnowledgeBaseTool(deps.knowledge));
  registry.register(createFetchUrlTool(deps.fetcher));
  registry.register(createCommentOnTaskTool(deps.thread));
  registry.register(createSubtaskTool(deps.board));
  registry.register(createSetTaskStatusTool(deps.board));
  registry.register(createScheduleRunTool(deps.schedules));
  registry.register(createPauseScheduleTool(deps.schedules));
  registry.register(createResumeScheduleTool(deps.schedules));
  registry.register(createDeleteScheduleTool(deps.schedules));
  if (deps.mailer) {
    registry.register(
      createSendEmailTool({
        mailer: deps.mailer,
        lookupSender: deps.emailSenderMode === 'shared' ? async () => undefined : deps.lookupSender,
        ...(deps.emailFrom ? { emailFrom: deps.emailFrom } : {}),
      }),
    );
  } else {
    registry.markUnavailable('send_email', 'SMTP_URL is not set');
  }
  if (deps.whatsapp) registry.register(createSendWhatsappTool(deps.whatsapp));
  else registry.markUnavailable('send_whatsapp', 'WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID are not set');
  if (deps.hubspot) {
    registry.register(createCrmSearchTool(deps.hubspot));
    registry.register(createCrmGetDealTool(deps.hubspot));
    registry.register(createUpdateDealStageTool(deps.hubspot));
  } else {
    for (const name of ['crm_search', 'crm_get_deal', 'update_deal_stage']) registry.markUnavailable(name, 'HUBSPOT_TOKEN is not set');
  }
  return registry;
}
