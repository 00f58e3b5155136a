import type { z } from 'zod';
import type { TrustMode } from '../db/schema.js';
import type { ToolHints } from '../policy/external.js';

/** The run a tool call belongs to, as tools see it (no database handle: tools stay small). */
export interface ToolRunInfo {
  id: string;
  teamId: string;
  channelId: string;
  threadTs: string | null;
  requesterId: string;
}

/** Everything a tool may use while preparing a card. */
export interface PrepareContext {
  run: ToolRunInfo;
}

/** Everything a tool may use while executing. Only the dispatcher builds one of these. */
export interface ToolRunContext {
  run: ToolRunInfo;
  actionId: string;
  /** What `prepare` returned when the call was proposed; bound into the approval. */
  prepared: Record<string, unknown>;
  /** Who approved this call (a Slack user id), or null when the policy let it run on its own. */
  approvedBy: string | null;
  signal?: AbortSignal;
}

/**
 * What a card or a thread line shows about one call, in plain words. Every string is plain text written
 * from untrusted input (model arguments, CRM data): renderers escape it, so describe() never writes mrkdwn.
 * Whatever changes the effect of the call (every recipient, the exact body, the target) must be here: the
 * card shows it or says exactly what it leaves to "View full", which shows all of it.
 */
export interface CallDescription {
  /** e.g. "Send email to sarah@acme.com, subject 'Re: Q2 report'". */
  summary: string;
  /** Labelled facts (To, Cc, Sent as...). A list (e.g. recipients) is shown item by item and counted. */
  fields?: CallField[];
  /** The exact long content (an email body, a message text), shown verbatim and paginated if long. */
  content?: string;
  contentLabel?: string;
}

export interface CallField {
  label: string;
  value: string | string[];
}

/** A tool result is data for the model. `isError` results tell the model what went wrong. */
export interface ToolOutput {
  content: string;
  isError?: boolean;
  /** What `undo` needs to revert this call (e.g. the previous status); stored with the result. */
  undoData?: Record<string, unknown>;
}

export { ToolError } from '../errors.js';

/** What a tool's server declared about it: compared when the server offers it again (drift protection). */
export interface ExternalToolDefinition {
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown>;
}

/** Where a tool that is not built in comes from, and the trust it starts with. */
export interface ExternalToolInfo {
  kind: 'mcp';
  server: string;
  /** The tool's own name on its server (the model sees `name`, `<server>__<tool>`). */
  remoteName: string;
  /** As the server declared it (untrusted text and hints). */
  definition: ExternalToolDefinition;
  /** sha256 of the canonical definition: an admin's trust is given for this exact definition. */
  definitionHash: string;
  hints: ToolHints;
  /** Default mode from the hints, and why (see policy/external.ts). */
  defaultMode: TrustMode;
  defaultWhy: string;
}

/** One value an approver may pick in the Edit dialog: the input takes `value`; people read `label`. */
export interface EditChoice {
  value: string;
  label: string;
}

/** The values of one field picked from a list, and the one the proposed call resolved to. */
export interface EditChoices {
  options: EditChoice[];
  selected?: string;
}

export interface ToolDefinition<I = any> {
  name: string;
  description: string;
  inputSchema: z.ZodType<I>;
  /**
   * The JSON Schema offered to the model, for tools whose schema comes as JSON Schema (MCP tools):
   * `inputSchema` then validates against it. Unset: derived from `inputSchema`.
   */
  jsonSchema?: Record<string, unknown>;
  /** Set for tools that come from outside the repository (MCP servers). */
  external?: ExternalToolInfo;
  /**
   * True when the tool touches the outside world and must always be approved by a human, whatever the
   * workspace's settings say (the hard floor). Custom tools may declare it too.
   */
  hardFloor?: boolean;
  /** Resolves extra facts that the approver must see and that execution must use (e.g. the sender). */
  prepare?(input: I, ctx: PrepareContext): Promise<Record<string, unknown>>;
  describe(input: I, prepared: Record<string, unknown>): CallDescription;
  /**
   * Failures known to have changed nothing come back as `isError` results. When the call may or may not
   * have taken effect (a connection lost after the request left), the connector's OutcomeUnknownError
   * must reach the dispatcher as it is: never catch it into an `isError` "not sent".
   */
  run(input: I, ctx: ToolRunContext): Promise<ToolOutput>;
  /**
   * Edit & approve: the values of the fields picked from a list (`EditField.choices`), read fresh when the
   * dialog opens, keyed by input field. Throws (a ToolError saying why) when they cannot be read.
   */
  editChoices?(input: I, prepared: Record<string, unknown>): Promise<Record<string, EditChoices>>;
  /** Reverts a successful call (reversible actions only); gets what `run` returned as undoData. */
  undo?(input: I, ctx: ToolRunContext & { undoData: Record<string, unknown> }): Promise<ToolOutput>;
}
