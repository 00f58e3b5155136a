import type { OutboxPayload } from '../../agent/outbox.js';
import type { MessageViews } from '../../agent/surface.js';
import type { OutboxOp } from '../../db/schema.js';
import type { SlackClients } from '../clients.js';
import { trusted } from '../../text/mrkdwn.js';
import { renderModelText } from '../../text/modelText.js';
import { renderCard } from '../blocks/card.js';
import { renderNotice } from '../blocks/notice.js';
import { renderCapStop, renderRetry } from '../blocks/runControls.js';
import { renderTaskMessage } from '../blocks/taskMessage.js';
import { renderTaskProgress } from '../blocks/taskProgress.js';
import type { HomeViews } from '../../agent/home.js';
import { HOME_LIMITS, renderHome } from '../blocks/home.js';

export interface RenderedMessage {
  text: string;
  blocks?: Record<string, unknown>[];
  /** A post in a thread that is also shown in the channel (Slack's reply_broadcast). */
  broadcast?: boolean;
  /** An App Home view (views.publish). */
  view?: Record<string, unknown>;
}

/** Slack's limit for a message's `text` is 40,000 characters; answers longer than this are cut. */
const MAX_TEXT = 39_000;

/** Turns an outbox payload into what Slack receives, from the current state in the database. */
export class OutboxRenderer {
  private readonly links = new Map<string, string>();

  constructor(
    private readonly views: MessageViews,
    private readonly clients: SlackClients,
    private readonly home?: HomeViews,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async render(payload: OutboxPayload, at: { op: OutboxOp; channel: string; teamId: string }): Promise<RenderedMessage | null> {
    switch (payload.kind) {
      case 'task': {
        const view = await this.views.task(payload.runId);
        if (!view) return null;
        const links = new Map<string, string>();
        for (const c of view.cardsElsewhere) {
          const link = await this.permalink(at.teamId, c.channel, c.ts);
          if (link) links.set(`${c.channel}/${c.ts}`, link);
        }
        return renderTaskMessage(view.run, view.queuePosition, renderTaskProgress(view, links), view.cacheSavedUsd);
      }
      case 'card': {
        const card = await this.views.card(payload.actionId);
        if (!card) return null;
        const elsewhere = at.channel !== card.run.channel_id && card.run.thread_ts;
        const taskPermalink = elsewhere && card.run.thread_ts ? await this.permalink(at.teamId, card.run.channel_id, card.run.thread_ts) : undefined;
        // A card in a task thread is announced in the channel, so people who do not follow the thread see it
        // (not in a DM, where the thread is the conversation). Only when posted: an update keeps the flag.
        const broadcast = at.op === 'post' && !elsewhere && card.announce === true && card.state.kind === 'pending' && !at.channel.startsWith('D');
        return { ...renderCard(card, { taskPermalink }), ...(broadcast ? { broadcast: true } : {}) };
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
      case 'status': {
        // Slack shows it after the app's name ("Agent is working…"); an empty status clears it.
        const view = await this.views.task(payload.runId);
        if (!view) return null;
        return { text: threadStatusText(view.run.status, view.queuePosition) };
      }
      case 'prompts':
        return { text: payload.title ?? '' };
      case 'home': {
        if (!this.home) return null;
        const data = await this.home.home(at.teamId, payload.userId);
        const links = new Map<string, string>();
        for (const item of data.waiting.slice(0, HOME_LIMITS.waitingShown)) {
          const { card_channel: channel, card_ts: ts } = item.action;
          const link = channel && ts ? await this.permalink(at.teamId, channel, ts) : undefined;
          if (link) links.set(item.action.id, link);
        }
        return { text: 'Home', view: renderHome(data, links, this.now()) };
      }
    }
  }

  /** Permalinks never change: asked once per message. A failure just leaves the link out. */
  private async permalink(teamId: string, channel: string, ts: string): Promise<string | undefined> {
    const key = `${teamId}/${channel}/${ts}`;
    const known = this.links.get(key);
    if (known) return known;
    try {
      const res = await (await this.clients.forTeam(teamId)).chat.getPermalink({ channel, message_ts: ts });
      if (res.permalink) this.links.set(key, res.permalink);
      return res.permalink;
    } catch {
      return undefined;
    }
  }
}

/** The AI-surface thread status for a run's state: busy states only; anything else clears it. */
export function threadStatusText(status: string, queuePosition: number | undefined): string {
  if (status === 'running') return queuePosition !== undefined ? 'is queued behind other runs…' : 'is working on it…';
  if (status === 'awaiting_approval') return 'is waiting for approval…';
  return '';
}
