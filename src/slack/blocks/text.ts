/** Block Kit text helpers. Limits come from Slack's docs (see platform notes). */
export const LIMITS = {
  sectionText: 3000,
  headerText: 150,
  buttonValue: 2000,
  /** Card content is cut well below the section limit: the whole message must stay under ~13k chars. */
  cardContent: 2500,
  cardReasoning: 1200,
  modalSection: 2900,
  modalBlocks: 100,
} as const;

export function truncate(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  return { text: `${text.slice(0, Math.max(0, max - 1))}…`, truncated: true };
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Shows a timestamp in each reader's own time zone, with a UTC fallback. */
export { slackDateText as slackDate } from '../../agent/text.js';

export function usd(n: number): string {
  return `$${n.toFixed(n < 1 ? 4 : 2)}`;
}

export function section(text: string): Record<string, unknown> {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, LIMITS.sectionText).text } };
}

export function context(text: string): Record<string, unknown> {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, LIMITS.sectionText).text }] };
}

/** Fences content as a code block so it is shown exactly, never interpreted as mrkdwn. */
export function verbatim(text: string): string {
  return `\`\`\`${text.replace(/```/g, "`\u200b``")}\`\`\``;
}
