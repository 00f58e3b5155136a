/**
 * Typed errors with stable codes. Codes are part of logs and activity details, so operators can grep for
 * them; never rename one once it has shipped.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'run_not_found'
  | 'action_not_found'
  | 'not_allowed'
  | 'already_decided'
  | 'invalid_state'
  | 'approval_missing'
  | 'approval_input_mismatch'
  | 'policy_forbids'
  | 'tool_unknown'
  | 'slack_post_failed'
  | 'model_call_failed'
  | 'bad_command'
  | 'fetch_refused'
  | 'fetch_failed'
  | 'email_failed'
  | 'agent_disabled'
  | 'cap_reached'
  | 'not_installed'
  /** A Slack event already acted on (a retry or a duplicate delivery). */
  | 'duplicate_event'
  | 'lease_lost';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A failure the model should hear about (bad address, refused URL, rate limit): tools and connectors
 * throw it, and it becomes an is_error tool result rather than a crash.
 */
export class ToolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ToolError';
    this.code = code;
  }
}

/**
 * A call to the outside world whose result cannot be known: the request left (an email's data was
 * handed to the relay in full, an HTTP request was sent) and no answer came back, so it may or may not
 * have taken effect. Neither success nor failure: the dispatcher records the action as `outcome_unknown`,
 * never retries it, and a person is asked to check.
 *
 * Connectors throw it; tools let it pass. It is deliberately not a ToolError, so a tool's usual
 * `catch (err) { if (err instanceof ToolError) ... }` cannot turn it into an ordinary "failed".
 */
export class OutcomeUnknownError extends Error {
  /** Stable code of the connector's situation, e.g. `email_outcome_unknown` (logged, in activity details). */
  readonly code: string;
  /**
   * Why it cannot be known, as a clause that completes "I can't tell whether <the action> happened: ...",
   * e.g. "the connection to the mail server was lost after the whole message had been sent to it, before it
   * confirmed receipt": no final period, no "not sent".
   */
  readonly reason: string;

  constructor(code: string, reason: string) {
    super(`Outcome unknown: ${reason}`);
    this.name = 'OutcomeUnknownError';
    this.code = code;
    this.reason = reason;
  }
}
