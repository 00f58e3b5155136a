import { z } from 'zod';
import { md } from '../text/mrkdwn.js';
import { renderModelText } from '../text/modelText.js';
import type { ToolDefinition } from './types.js';

export interface ThreadPoster {
  /** Posts `text` (mrkdwn, already made safe by the caller) in the run's task thread. */
  postToRunThread(runId: string, text: string): Promise<void>;
}

const inputSchema = z.object({
  text: z.string().trim().min(1, 'text must not be empty').max(3000, 'text must be at most 3000 characters'),
});

/** A progress note in the task thread: the agent's way of keeping people informed. */
export function createCommentOnTaskTool(poster: ThreadPoster): ToolDefinition<z.infer<typeof inputSchema>> {
  return {
    name: 'comment_on_task',
    description:
      'Post a short comment in the Slack thread of this task, to keep the requester informed (progress, a question, a finding). Plain text, at most 3000 characters.',
    inputSchema,
    describe: (input) => ({
      summary: `Comment in the task thread: "${input.text.length > 80 ? `${input.text.slice(0, 80)}…` : input.text}"`,
      content: input.text,
      contentLabel: 'Comment',
    }),
    async run(input, ctx) {
      // The model wrote this, possibly steered by a web page: plain formatting only, no pings, honest links.
      await poster.postToRunThread(ctx.run.id, md`:speech_balloon: ${renderModelText(input.text)}`.value);
      return { content: 'Comment posted in the task thread.' };
    },
  };
}
