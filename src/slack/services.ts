import type { Logger } from 'pino';
import type { Approvals } from '../agent/approvals.js';
import type { RunControl } from '../agent/control.js';
import type { RunEngine } from '../agent/engine.js';
import type { TrustService } from '../agent/trust.js';
import type { CapsService } from '../agent/capsService.js';
import type { Scheduler } from '../agent/scheduler.js';

/** What listeners may call: the core, never the database or the tools directly. */
export interface SlackServices {
  engine: RunEngine;
  approvals: Approvals;
  control: RunControl;
  trust: TrustService;
  caps: CapsService;
  scheduler: Scheduler;
  logger: Logger;
}
