import type { App } from '@slack/bolt';
import { REJECT_CALLBACK_ID } from '../../blocks/modals.js';
import type { SlackServices } from '../../services.js';
import { rejectNoteSubmission } from './rejectNote.js';
import { trustEditSubmission } from './trustEdit.js';
import { TRUST_EDIT_CALLBACK_ID } from '../../blocks/trust.js';
import { EDIT_CALLBACK_ID } from '../../blocks/editModal.js';
import { editSubmission } from './editSubmit.js';

export function registerViews(app: App, services: SlackServices): void {
  app.view(REJECT_CALLBACK_ID, rejectNoteSubmission(services));
  app.view(TRUST_EDIT_CALLBACK_ID, trustEditSubmission(services));
  app.view(EDIT_CALLBACK_ID, editSubmission(services));
}
