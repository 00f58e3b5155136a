import type { WebClient } from '@slack/web-api';
import type { OutboxPayload } from '../../agent/outbox.js';
import type { MessageViews } from '../../agent/surface.js';
import type { OutboxOp } from '../../db/schema.js';
import { trusted } from '../../text/mrkdwn.js';
import { renderModelText } from '../../text/modelText.js';
import { renderCard } from '../blocks/card.js';
import { renderNotice } from '../blocks/notice.js';
import { renderCapStop, renderRetry } from '../blocks/runControls.js';
import { renderTaskMessage } from '../blocks/taskMessage.js';
import { renderTaskProgress } from '../blocks/taskProgress.js';

export interface RenderedMessage {
  text: string;
  blocks?: Record<string, unknown>[];
}

/** Slack's limit for a message's `text` is 40,000 characters; answers longer than this are cut. */
const MAX_TEXT = 39_000;

/** Turns an outbox payload into what Slack receives, from the current state in the database. */
export class OutboxRenderer {
  private readonly links = new Map<string, string>();

  constructor(
    private readonly views: MessageViews,
    private readonly client: WebClient,
  ) {}

  async render(payload: OutboxPayload, at: { op: OutboxOp; channel: string }): Promise<RenderedMessage | null> {
    switch (payload.kind) {
      case 'task': {
        const view = await this.views.task(payload.runId);
        if (!view) return null;
        const links = new Map<string, string>();
        for (const c of view.cardsElsewhere) {
          const link = await this.permalink(c.channel, c.ts);
          if (link) links.set(`${c.channel}/${c.ts}`, link);
        }
        return renderTaskMessage(view.run, view.queuePosition, renderTaskProgress(view, links), view.cacheSavedUsd);
      }
      case 'card': {
        const card = await this.views.card(payload.actionId);
        if (!card) return null;
        const elsewhere = at.channel !== card.run.channel_id && card.run.thread_ts;
        const taskPermalink = elsewhere && card.run.thread_ts ? await this.permalink(card.run.channel_id, card.run.thread_ts) : undefined;
        return renderCard(card, { taskPermalink });
      }
      case 'line':
        return { text: payload.text };
      case 'final': {
        // The model's answer: plain formatting and bare links only, never a mention or a disguised link.
        const body = renderModelText(payload.text, { max: MAX_TEXT }).value;
        return { text: payload.note ? `${body}${payload.note}` : body };
      }
      // Outbox text payloads were built with `md` when queued: already safe mrkdwn.
      case 'notice':
        return { text: payload.text, blocks: renderNotice(trusted(payload.text), payload.undoActionId) };
      case 'retry':
        return { text: payload.text, blocks: renderRetry(trusted(payload.text), payload.runId) };
      case 'capstop':
        return { text: payload.text, blocks: renderCapStop(trusted(payload.text), payload.runId) };
      case 'static':
        return { text: payload.text, ...(payload.blocks ? { blocks: payload.blocks } : {}) };
    }
  }

  /** Permalinks never change: asked once per message. A failure just leaves the link out. */
  private async permalink(channel: string, ts: string): Promise<string | undefined> {
    const key = `${channel}/${ts}`;
    const known = this.links.get(key);
    if (known) return known;
    try {
      const res = await this.client.chat.getPermalink({ channel, message_ts: ts });
      if (res.permalink) this.links.set(key, res.permalink);
      return res.permalink;
    } catch {
      return undefined;
    }
  }
}
