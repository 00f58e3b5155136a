import { createHash } from 'node:crypto';

/** The Claude API's rule for tool names. */
export const API_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const SEPARATOR = '__';

/**
 * The name the model sees for tool `tool` of server `server`: `<server>__<tool>`. Stable (it depends on
 * the two names only, so runs, settings and the log keep meaning the same tool) and within the API's
 * rules: a tool name with other characters, or too long to fit, keeps a readable prefix and gets a short
 * hash of its real name, so two different tools never share a name.
 */
export function namespacedName(server: string, tool: string): string {
  const plain = `${server}${SEPARATOR}${tool}`;
  if (API_TOOL_NAME.test(plain)) return plain;
  const hash = createHash('sha256').update(tool).digest('hex').slice(0, 8);
  const room = 64 - server.length - SEPARATOR.length - hash.length - 1;
  const readable = tool.replace(/[^a-zA-Z0-9_-]+/g, '_').slice(0, Math.max(0, room));
  return `${server}${SEPARATOR}${readable ? `${readable}_` : ''}${hash}`;
}

/** `<server>__*`: every tool of one server (trust settings). */
export function serverPattern(server: string): string {
  return `${server}${SEPARATOR}*`;
}

/** The server part of a namespaced name or pattern, when it has one. */
export function serverOf(name: string): string | undefined {
  const at = name.indexOf(SEPARATOR);
  return at > 0 ? name.slice(0, at) : undefined;
}

export function isServerPattern(name: string): boolean {
  return name.endsWith(`${SEPARATOR}*`) && serverOf(name) !== undefined && name.length === (serverOf(name)?.length ?? 0) + SEPARATOR.length + 1;
}
