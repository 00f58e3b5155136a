import { z } from 'zod';
import type { ToolDefinition } from './types.js';

/** The tool list as sent to Claude: name, description, JSON Schema of the input. */
export interface ApiTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

/**
 * The tools offered to the model. Built-in and (later) custom tools register here; a tool whose
 * connector is not configured is simply never registered, so the model is not offered it.
 *
 * The registry hands out definitions; executing one is the dispatcher's job alone (a test checks that no
 * other module calls a tool's `run`).
 */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();
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

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  toApiTools(): ApiTool[] {
    return [...this.tools.values()].map((t) => {
      const { $schema: _ignored, ...schema } = z.toJSONSchema(t.inputSchema, { io: 'input' }) as Record<string, unknown>;
      return { name: t.name, description: t.description, input_schema: schema };
    });
  }
}
