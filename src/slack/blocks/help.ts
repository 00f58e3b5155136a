/** `/agent help`: the commands, grouped by who may use them. `prefix` is mrkdwn (a parser problem). */
export function helpText(prefix?: string): string {
  const usage = [
    '*/agent* — run a Claude agent here; anything that touches the outside world waits for approval.',
    '',
    '*Anyone*',
    '• `/agent run <task>` — start a run in this channel (its thread shows everything it does)',
    '• Or mention me (`@Agent <task>`) in a channel or thread, or message me directly; reply in the task thread to steer a run',
    '• `/agent status [run-id]` — workspace state, or one run',
    '• `/agent log <run-id>` — who approved or rejected what, and when',
    '• `/agent cancel <run-id>` — cancel a run (requester or admin)',
    '• `/agent rerun <run-id> [extra context]` — start again with more context',
    '• `/agent trust` — what needs approval · `/agent caps` — spend caps · `/agent schedules` — recurring runs',
    '• `/agent tools` — connected MCP servers, their tools and what needs approval',
    '',
    '*Admins*',
    '• `/agent trust <action> <mode>` — modes: `require_approval`, `auto_notify`, `full_auto` · `/agent trust edit` — the same in a form',
    '• `/agent trust <action> approvers @user @group|anyone` · `/agent trust self-approval on|off`',
    "• `/agent trust others-replies ignore|context` — what other people's replies in a task thread do",
    '• `/agent trust route thread|#channel` — where cards go · `/agent trust digest <hour> [time zone]`',
    '• `/agent tools refresh` — list the MCP servers\' tools again · `/agent tools accept <server>__<tool>|<server>__*` — trust a changed definition',
    '• `/agent trust <server>__<tool> <mode>` / `/agent trust <server>__* <mode>` — modes of MCP tools, one or a whole server',
    '• `/agent pause [reason]` / `/agent unpause` — every action needs approval while paused',
    '• `/agent caps <run|user-day|workspace-day|turns> <value>`',
    '• `/agent disable [reason]` / `/agent enable` — kill switch',
    '',
    'Run ids look like `r-7k3qx9`; they are on every task message and card.',
  ]
    .join('\n')
    // The placeholders (<task>, <run-id>) would be read by Slack as links: they are escaped.
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
  return prefix ? `${prefix}\n\n${usage}` : usage;
}
