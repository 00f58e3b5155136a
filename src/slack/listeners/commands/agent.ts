import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { errorMessage, isAppError } from '../../../errors.js';
import { helpText } from '../../blocks/help.js';
import { parseAgentCommand } from '../../commandParser.js';
import { slashCommandSchema } from '../../payloads.js';
import type { SlackServices } from '../../services.js';
import { cancelCommand } from './cancel.js';
import type { CommandContext } from './context.js';
import { logCommand } from './log.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { trustCommand } from './trust.js';
import { capsCommand } from './caps.js';
import { disableCommand, enableCommand } from './killSwitch.js';
import { rerunCommand } from './rerun.js';
import { schedulesCommand } from './schedules.js';
import { pauseCommand, unpauseCommand } from './pause.js';
import { toolsCommand } from './tools.js';
import { md } from '../../../text/mrkdwn.js';

/** `/agent`: parse, route to one subcommand handler, and make sure Slack always gets exactly one ack. */
export function agentCommand(services: SlackServices) {
  return async ({ command, ack, respond, client }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    let acked = false;
    const ackOnce = async (text: string, blocks?: Record<string, unknown>[]) => {
      if (acked) {
        await respond({ response_type: 'ephemeral', text, ...(blocks ? { blocks: blocks as never } : {}) });
        return;
      }
      acked = true;
      await ack({ response_type: 'ephemeral', text, ...(blocks ? { blocks: blocks as never } : {}) });
    };
    const parsed = slashCommandSchema.safeParse(command);
    if (!parsed.success) {
      await ackOnce('That request was missing fields Slack always sends; nothing was done.');
      return;
    }
    const ctx: CommandContext = { payload: parsed.data, services, ack: ackOnce, respond, client };
    // The workspace's Enterprise Grid id, for the organisation check on clicks (cheap when unchanged).
    if (parsed.data.enterprise_id) {
      await services.control.noteEnterprise(parsed.data.team_id, parsed.data.enterprise_id).catch((err: unknown) => services.logger.warn({ err: errorMessage(err) }, 'could not record the enterprise id'));
    }
    const cmd = parseAgentCommand(parsed.data.text);
    try {
      switch (cmd.kind) {
        case 'run':
          return await runCommand(ctx, cmd.task);
        case 'log':
          return await logCommand(ctx, cmd.runId);
        case 'status':
          return await statusCommand(ctx, cmd.runId);
        case 'cancel':
          return await cancelCommand(ctx, cmd.runId);
        case 'trust':
          return await trustCommand(ctx, cmd.args);
        case 'pause':
          return await pauseCommand(ctx, cmd.reason);
        case 'unpause':
          return await unpauseCommand(ctx);
        case 'caps':
          return await capsCommand(ctx, cmd.args);
        case 'disable':
          return await disableCommand(ctx, cmd.reason);
        case 'enable':
          return await enableCommand(ctx);
        case 'rerun':
          return await rerunCommand(ctx, cmd.runId, cmd.extra);
        case 'schedules':
          return await schedulesCommand(ctx);
        case 'tools':
          return await toolsCommand(ctx, cmd.args);
        case 'help':
          return await ackOnce(helpText(cmd.problem));
      }
    } catch (err) {
      if (isAppError(err) && ['run_not_found', 'not_allowed', 'invalid_state', 'bad_command', 'agent_disabled', 'cap_reached', 'policy_forbids'].includes(err.code)) {
        await ackOnce(`:warning: ${err.message}`);
        return;
      }
      services.logger.error({ err, text: parsed.data.text }, '/agent command failed');
      await ackOnce(md`:x: Something went wrong: ${errorMessage(err)}. Nothing was changed.`.value).catch(() => undefined);
    }
  };
}
