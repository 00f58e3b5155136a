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
  | 'cap_reached';

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
