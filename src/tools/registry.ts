import { z } from 'zod';
import type { ToolDefinition } from './types.js';

/** The tool list as sent to Claude: name, description, JSON Schema of the input. */
export interface ApiTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

/** A source of tools that are not built in (an MCP server), as last seen. */
export interface ExternalSource {
  name: string;
  kind: 'mcp';
  /** Where it is, without credentials or query string. */
  url: string;
  state: 'connected' | 'unavailable' | 'disabled';
  /** Why it is unavailable (or disabled). */
  why?: string;
  /** When its tools were last listed or tried (ISO). */
  checkedAt?: string;
  /** The names offered to the model. */
  toolNames: string[];
  /** Tools the server lists that are not offered, and why (unusable schema, name clash). */
  skipped: Array<{ tool: string; why: string }>;
}

/**
 * The tools offered to the model. Built-in tools register once; tools of an external source (an MCP
 * server) are replaced as a whole each time the source is listed again. A tool whose connector is not
 * configured is simply never registered, so the model is not offered it.
 *
 * The registry hands out definitions; executing one is the dispatcher's job alone (a test checks that no
 * other module calls a tool's `run`).
 */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();
  private readonly external = new Map<string, ToolDefinition>();
  private readonly sourceStates = new Map<string, ExternalSource>();
  /** Tools that exist in the product but are not offered here, with why (for `/agent status`). */
  readonly unavailable = new Map<string, string>();

  register(tool: ToolDefinition): this {
    if (this.tools.has(tool.name)) throw new Error(`Tool ${tool.name} registered twice`);
    this.tools.set(tool.name, tool);
    return this;
  }

  markUnavailable(name: string, why: string): this {
    this.unavailable.set(name, why);
    return this;
  }

  /**
   * Replaces everything a source offered with `tools` (none when it is down). A name already taken by a
   * built-in tool or another source is not offered, and the source's state says so.
   */
  setSource(source: Omit<ExternalSource, 'toolNames' | 'skipped'> & { skipped?: ExternalSource['skipped'] }, tools: ToolDefinition[]): ExternalSource {
    for (const [name, t] of this.external) if (t.external?.server === source.name) this.external.delete(name);
    const skipped = [...(source.skipped ?? [])];
    const toolNames: string[] = [];
    for (const tool of tools) {
      if (this.tools.has(tool.name) || this.external.has(tool.name)) {
        skipped.push({ tool: tool.external?.remoteName ?? tool.name, why: `its name ${tool.name} is already taken by another tool` });
        continue;
      }
      this.external.set(tool.name, tool);
      toolNames.push(tool.name);
    }
    const state: ExternalSource = { ...source, toolNames, skipped };
    this.sourceStates.set(source.name, state);
    return state;
  }

  /** Forgets a source that is no longer configured. */
  removeSource(name: string): void {
    for (const [toolName, t] of this.external) if (t.external?.server === name) this.external.delete(toolName);
    this.sourceStates.delete(name);
  }

  sources(): ExternalSource[] {
    return [...this.sourceStates.values()];
  }

  source(name: string): ExternalSource | undefined {
    return this.sourceStates.get(name);
  }

  /** The tools a source offers now. */
  toolsOf(source: string): ToolDefinition[] {
    return [...this.external.values()].filter((t) => t.external?.server === source);
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name) ?? this.external.get(name);
  }

  names(): string[] {
    return [...this.tools.keys(), ...[...this.external.keys()].sort()];
  }

  builtInNames(): string[] {
    return [...this.tools.keys()];
  }

  /**
   * The tool list as stored with each run (JSON). Every run start needs it, so the text is kept until
   * the set of definitions changes (an MCP source listed again hands out new definition objects).
   */
  apiToolsJson(): string {
    const defs = this.names().map((name) => this.get(name)!);
    const cached = this.jsonCache;
    if (cached && cached.defs.length === defs.length && cached.defs.every((d, i) => d === defs[i])) return cached.json;
    const json = JSON.stringify(this.toApiTools());
    this.jsonCache = { defs, json };
    return json;
  }

  private jsonCache: { defs: ToolDefinition[]; json: string } | undefined;

  toApiTools(): ApiTool[] {
    return this.names().map((name) => {
      const t = this.get(name)!;
      let api = apiToolOf.get(t);
      if (!api) {
        api = toApiTool(t);
        apiToolOf.set(t, api);
      }
      return api;
    });
  }
}

/**
 * Converting a zod schema to JSON Schema costs about a millisecond per tool, and every run start stores
 * the tool list: a definition never changes, so each is converted once.
 */
const apiToolOf = new WeakMap<ToolDefinition, ApiTool>();

function toApiTool(t: ToolDefinition): ApiTool {
  if (t.jsonSchema) return { name: t.name, description: t.description, input_schema: t.jsonSchema };
  const { $schema: _ignored, ...schema } = z.toJSONSchema(t.inputSchema, { io: 'input' }) as Record<string, unknown>;
  return { name: t.name, description: t.description, input_schema: schema };
}
