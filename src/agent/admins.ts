import type { UserDirectory } from './surface.js';

/** Admins are the configured ADMIN_USER_IDS plus Slack workspace admins and owners. */
export class AdminCheck {
  constructor(
    private readonly adminUserIds: readonly string[],
    private readonly users: UserDirectory,
  ) {}

  async isAdmin(teamId: string, userId: string): Promise<boolean> {
    if (this.adminUserIds.includes(userId)) return true;
    try {
      return (await this.users.lookup(teamId, userId))?.isAdmin === true;
    } catch {
      // If Slack cannot tell us, the safe answer for a privilege check is no.
      return false;
    }
  }
}
