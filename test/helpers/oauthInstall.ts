/**
 * A browser going through the app's OAuth install, step by step: GET /slack/install (the app redirects to
 * Slack's authorize page and sets the state cookie), the person approves on the fake Slack, and the browser
 * comes back to /slack/oauth_redirect with the code, the state and its cookie.
 */
import type { FakeSlack } from './fakeSlack.js';
import type { FakeInstallWho } from './fakeSlackOAuth.js';

export interface InstallStart {
  status: number;
  /** Slack's authorize URL the app redirected to. */
  location: string;
  /** The state cookie as the browser sends it back (`name=value`), or '' when none was set. */
  cookie: string;
}

export interface Page {
  status: number;
  body: string;
  headers: Headers;
}

export async function startInstall(baseUrl: string): Promise<InstallStart> {
  const res = await fetch(`${baseUrl}/slack/install`, { redirect: 'manual' });
  await res.text();
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('slack-app-oauth-state='));
  return { status: res.status, location: res.headers.get('location') ?? '', cookie: setCookie ? (setCookie.split(';')[0] ?? '') : '' };
}

export async function openCallback(url: string, cookie: string): Promise<Page> {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The whole flow for one workspace; returns the page the installing person ends on. */
export async function installWorkspace(baseUrl: string, slack: FakeSlack, who: FakeInstallWho): Promise<Page> {
  if (!slack.oauth) throw new Error('the fake Slack was started without the oauth option');
  const start = await startInstall(baseUrl);
  if (start.status !== 302) throw new Error(`GET /slack/install answered ${start.status}, not a redirect`);
  const back = slack.oauth.approve(start.location, { redirectUri: `${baseUrl}/slack/oauth_redirect`, ...who });
  return openCallback(back, start.cookie);
}
