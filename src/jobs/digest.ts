import cron from 'node-cron';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

/** Checks every hour on the hour; each workspace's own hour and time zone decide whether it posts. */
export function scheduleDigest(run: () => Promise<unknown>, logger: Logger): { stop(): void } {
  const task = cron.schedule('0 * * * *', () => {
    run().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'digest job failed'));
  });
  return { stop: () => void task.stop() };
}
