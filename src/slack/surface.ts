import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { CardLocation, CardView, ChatSurface } from '../agent/surface.js';
import type { Run } from '../db/schema.js';
import { errorMessage } from '../errors.js';
import { renderCard } from './blocks/card.js';
import { renderTaskMessage } from './blocks/taskMessage.js';
import { renderNotice } from './blocks/notice.js';
import { renderCapStop, renderRetry } from './blocks/runControls.js';

export interface SlackSurfaceOptions {
  client: WebClient;
  logger: Logger;
}

/** The agent's view of Slack: task messages, thread lines and cards, rendered with Block Kit. */
export class SlackSurface implements ChatSurface {
  constructor(private readonly opts: SlackSurfaceOptions) {}

  async postTaskMessage(run: Run): Promise<{ ts: string }> {
    const { text, blocks } = renderTaskMessage(run);
    const res = await this.opts.client.chat.postMessage({ channel: run.channel_id, text, blocks: blocks as never, unfurl_links: false });
    if (!res.ts) throw new Error('chat.postMessage returned no ts');
    return { ts: res.ts };
  }

  async updateTaskMessage(run: Run, live: { queuePosition?: number | undefined } = {}): Promise<void> {
    if (!run.thread_ts) return;
    const { text, blocks } = renderTaskMessage(run, live.queuePosition);
    await this.opts.client.chat.update({ channel: run.channel_id, ts: run.thread_ts, text, blocks: blocks as never });
  }

  async postInThread(run: Run, text: string): Promise<void> {
    if (!run.thread_ts) return;
    await this.opts.client.chat.postMessage({ channel: run.channel_id, thread_ts: run.thread_ts, text, unfurl_links: false, unfurl_media: false });
  }

  async postNotice(run: Run, text: string, undoActionId?: string): Promise<{ ts: string }> {
    if (!run.thread_ts) throw new Error('The task message has not been posted yet');
    const blocks = renderNotice(text, undoActionId);
    const res = await this.opts.client.chat.postMessage({ channel: run.channel_id, thread_ts: run.thread_ts, text, blocks: blocks as never, unfurl_links: false });
    if (!res.ts) throw new Error('chat.postMessage returned no ts');
    return { ts: res.ts };
  }

  async updateNotice(run: Run, ts: string, text: string): Promise<void> {
    await this.opts.client.chat.update({ channel: run.channel_id, ts, text, blocks: renderNotice(text) as never });
  }

  async postCard(card: CardView): Promise<CardLocation> {
    const { run } = card;
    if (!run.thread_ts) throw new Error('The task message has not been posted yet');
    const channel = card.route;
    if (channel && channel !== run.channel_id) {
      try {
        const taskPermalink = await this.permalink(run.channel_id, run.thread_ts);
        const { text, blocks } = renderCard(card, { taskPermalink });
        const res = await this.opts.client.chat.postMessage({ channel, text, blocks: blocks as never });
        if (!res.ts) throw new Error('chat.postMessage returned no ts');
        const cardLink = await this.permalink(channel, res.ts);
        await this.postInThread(run, `:raised_hand: Waiting for approval: ${card.description.summary}${cardLink ? ` — <${cardLink}|see the card in <#${channel}>>` : ` — the card is in <#${channel}>`}`).catch((err: unknown) =>
          this.opts.logger.warn({ err: errorMessage(err), runId: run.id }, 'could not link the card from the thread'),
        );
        return { channel, ts: res.ts };
      } catch (err) {
        // A card that cannot reach the approvals channel falls back to the thread; it is never skipped.
        this.opts.logger.warn({ err: errorMessage(err), runId: run.id, channel }, 'approvals channel unusable; posting the card in the task thread');
        await this.postInThread(run, `:information_source: I could not post the approval card in <#${channel}> (${errorMessage(err)}), so it is here instead.`).catch(() => undefined);
      }
    }
    const { text, blocks } = renderCard(card);
    const res = await this.opts.client.chat.postMessage({ channel: run.channel_id, thread_ts: run.thread_ts, text, blocks: blocks as never });
    if (!res.ts) throw new Error('chat.postMessage returned no ts');
    return { channel: run.channel_id, ts: res.ts };
  }

  async updateCard(card: CardView, at: CardLocation): Promise<void> {
    const taskPermalink = at.channel !== card.run.channel_id && card.run.thread_ts ? await this.permalink(card.run.channel_id, card.run.thread_ts) : undefined;
    const { text, blocks } = renderCard(card, { taskPermalink });
    await this.opts.client.chat.update({ channel: at.channel, ts: at.ts, text, blocks: blocks as never });
  }

  async postCapStop(run: Run, text: string, _cap: string): Promise<void> {
    if (!run.thread_ts) return;
    await this.opts.client.chat.postMessage({ channel: run.channel_id, thread_ts: run.thread_ts, text, blocks: renderCapStop(text, run.id) as never });
  }

  async postRetry(run: Run, text: string): Promise<void> {
    if (!run.thread_ts) return;
    await this.opts.client.chat.postMessage({ channel: run.channel_id, thread_ts: run.thread_ts, text, blocks: renderRetry(text, run.id) as never });
  }

  async postToChannel(channel: string, text: string): Promise<CardLocation> {
    const res = await this.opts.client.chat.postMessage({ channel, text, unfurl_links: false });
    if (!res.ts) throw new Error('chat.postMessage returned no ts');
    return { channel, ts: res.ts };
  }

  async permalink(channel: string, ts: string): Promise<string | undefined> {
    try {
      const res = await this.opts.client.chat.getPermalink({ channel, message_ts: ts });
      return res.permalink;
    } catch (err) {
      this.opts.logger.debug({ err: errorMessage(err) }, 'chat.getPermalink failed');
      return undefined;
    }
  }
}
