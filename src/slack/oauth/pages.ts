import type { ServerResponse } from 'node:http';
import { ErrorCode as OAuthErrorCode, type CodedError } from '@slack/oauth';

/** Team names and error text come from outside: everything put in a page is escaped. */
function escapeHtml(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em"><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  // writeHead keeps headers set before, such as the Set-Cookie with which Bolt clears the state cookie.
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

export function installedPage(res: ServerResponse, teamName: string | undefined, teamId: string): void {
  const where = teamName ? `${teamName} (${teamId})` : teamId;
  page(res, 200, 'Agent is installed', `<p>The app is now installed in <strong>${escapeHtml(where)}</strong>.</p><p>Type <code>/agent help</code> in any channel to start.</p>`);
}

export function refusedPage(res: ServerResponse, status: number, why: string): void {
  page(res, status, 'Installation not completed', `<p>${escapeHtml(why)}</p>`);
}

/** What the installing person is told when the callback fails; the code is for the operator's logs. */
export function installFailedPage(res: ServerResponse, error: CodedError, installPath: string): void {
  switch (error.code) {
    case OAuthErrorCode.InvalidStateError:
    case OAuthErrorCode.MissingStateError:
      refusedPage(res, 400, `This installation link is not valid any more (it expired, was already used, or was started in another browser). Start again at ${installPath}.`);
      return;
    case OAuthErrorCode.MissingCodeError:
      refusedPage(res, 400, `Slack did not send an authorisation code. Start again at ${installPath}.`);
      return;
    case OAuthErrorCode.AuthorizationError:
      refusedPage(res, 400, 'The installation was cancelled in Slack. Nothing was installed.');
      return;
    default:
      refusedPage(res, 500, `Slack did not complete the installation (${error.code}). Nothing was installed; try again at ${installPath}.`);
  }
}
