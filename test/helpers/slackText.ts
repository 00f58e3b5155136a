/**
 * Reading Slack text the way Slack does, for security assertions: which `<...>` control sequences are live
 * (links, mentions, broadcasts), and what a reader sees once entities are decoded.
 */

/** Every `<...>` sequence Slack would parse as a link, mention, broadcast or date. */
export function liveSequences(text: string): string[] {
  return text.match(/<[^<>]*>/g) ?? [];
}

/** What a reader sees: entities decoded (after Slack has parsed the live sequences). */
export function decodeEntities(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Every text field of a Block Kit structure (mrkdwn and plain_text), in document order. */
export function blockTexts(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if ((o['type'] === 'mrkdwn' || o['type'] === 'plain_text') && typeof o['text'] === 'string') out.push(o['text']);
    for (const [k, child] of Object.entries(o)) if (k !== 'text' || typeof child !== 'string') walk(child);
  };
  walk(value);
  return out;
}

/** Section texts only (where content is shown), in order. */
export function sectionTexts(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return [];
  return blocks.flatMap((b) => {
    const o = b as { type?: string; text?: { text?: string }; fields?: Array<{ text?: string }> };
    if (o.type !== 'section') return [];
    return [...(o.text?.text !== undefined ? [o.text.text] : []), ...(o.fields ?? []).map((f) => f.text ?? '')];
  });
}

/** The source text of consecutive code fences (our zero-width backtick breaks removed, entities decoded). */
export function unfence(sections: string[]): string {
  return decodeEntities(
    sections
      .flatMap((s) => {
        const m = /```([\s\S]*)```$/.exec(s);
        return m ? [m[1]!.replace(/\u200b/g, '')] : [];
      })
      .join(''),
  );
}

/** What Slack renders as a visible marker for each hidden character (mirrors the app, for expectations). */
export function withMarkers(text: string, hidden: RegExp): string {
  return text.replace(hidden, (ch) => `[U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}
