/** Slack escapes mentions in slash-command text (manifest `should_escape: true`); raw ids work too. */
export function parseUserOrGroup(token: string): { user: string } | { group: string } | undefined {
  const user = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(token) ?? /^([UW][A-Z0-9]{2,})$/.exec(token);
  if (user?.[1]) return { user: user[1] };
  const group = /^<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>$/.exec(token) ?? /^(S[A-Z0-9]{2,})$/.exec(token);
  if (group?.[1]) return { group: group[1] };
  return undefined;
}

export function parseChannel(token: string): string | undefined {
  const m = /^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(token) ?? /^([CG][A-Z0-9]{2,})$/.exec(token);
  return m?.[1];
}
