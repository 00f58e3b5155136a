import type { App, BlockButtonAction } from '@slack/bolt';
import { ACTION_IDS } from '../../blocks/card.js';
import type { SlackServices } from '../../services.js';
import { approveAction } from './approve.js';
import { rejectAction } from './reject.js';
import { viewFullAction, viewFullPageAction } from './viewFull.js';
import { undoAction } from './undo.js';
import { editAction } from './edit.js';
import { runControlAction } from './runControls.js';
import { scheduleAdminAction } from './scheduleAdmin.js';
import { SCHEDULE_ACTION_IDS } from '../../blocks/schedules.js';
import { SUGGESTION_ACTION_IDS } from '../../blocks/trustSuggestions.js';
import { trustSuggestionAction } from './trustSuggestion.js';
import { RUN_ACTION_IDS } from '../../blocks/runControls.js';
import { UNDO_ACTION_ID } from '../../blocks/notice.js';
import { VIEW_FULL_PAGE_ACTION } from '../../blocks/modals.js';
import { registerHomeActions } from './home.js';

export function registerActions(app: App, services: SlackServices): void {
  app.action<BlockButtonAction>(ACTION_IDS.approve, approveAction(services));
  app.action<BlockButtonAction>(ACTION_IDS.approveRemember, approveAction(services, { remember: true }));
  app.action<BlockButtonAction>(ACTION_IDS.reject, rejectAction(services));
  app.action<BlockButtonAction>(ACTION_IDS.viewFull, viewFullAction(services));
  app.action<BlockButtonAction>(ACTION_IDS.edit, editAction(services));
  app.action<BlockButtonAction>(`${VIEW_FULL_PAGE_ACTION}_prev`, viewFullPageAction(services));
  app.action<BlockButtonAction>(`${VIEW_FULL_PAGE_ACTION}_next`, viewFullPageAction(services));
  app.action<BlockButtonAction>(UNDO_ACTION_ID, undoAction(services));
  app.action<BlockButtonAction>(RUN_ACTION_IDS.raiseCap, runControlAction(services, 'raise'));
  app.action<BlockButtonAction>(RUN_ACTION_IDS.stop, runControlAction(services, 'stop'));
  app.action<BlockButtonAction>(RUN_ACTION_IDS.retry, runControlAction(services, 'retry'));
  app.action<BlockButtonAction>(SCHEDULE_ACTION_IDS.pause, scheduleAdminAction(services, 'paused'));
  app.action<BlockButtonAction>(SCHEDULE_ACTION_IDS.resume, scheduleAdminAction(services, 'active'));
  app.action<BlockButtonAction>(SCHEDULE_ACTION_IDS.delete, scheduleAdminAction(services, 'deleted'));
  app.action<BlockButtonAction>(SUGGESTION_ACTION_IDS.apply, trustSuggestionAction(services, 'apply'));
  app.action<BlockButtonAction>(SUGGESTION_ACTION_IDS.dismiss, trustSuggestionAction(services, 'dismiss'));
  registerHomeActions(app, services);
}
