import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { textReply } from '../helpers/fakeClaude.js';
import { REQUESTER, APPROVER, TASK_CHANNEL, startHarness, waitUntil, type Harness } from '../helpers/testApp.js';

describe('starting a run by mentioning the app in a channel', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  const answered = () => h.claude.requests.filter((r) => !r.rejected).map((r) => r.body);

  it('a top-level mention starts a run whose task message is the first reply under the mention', async () => {
    h.claude.enqueue(textReply('Revenue grew 12% in Q2.'));
    const sent = await h.mention('summarise the Q2 report');
    expect(sent.response.status).toBe(200);
    const run = await h.waitForRun((r) => r.status === 'completed');
    expect(run).toMatchObject({ channel_id: TASK_CHANNEL, requester_id: REQUESTER, task: 'summarise the Q2 report', thread_ts: sent.ts });
    await h.delivered();
    const replies = h.slack.threadReplies(TASK_CHANNEL, sent.ts);
    expect(replies[0]!.text).toMatch(new RegExp(`^Task ${run.id} `));
    expect(replies.map((m) => m.text)).toContain('Revenue grew 12% in Q2.');
    // Nothing of the run is posted at the top level of the channel: the mention's thread is the task thread.
    expect(h.slack.channelMessages(TASK_CHANNEL).map((m) => m.ts)).toEqual([sent.ts]);
    expect(answered()[0].messages[0].content[0].text).toBe('Task: summarise the Q2 report');
    expect(answered()[0].messages[0].content).toHaveLength(1);
  });
});
