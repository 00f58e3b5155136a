import cron from 'node-cron';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

/** Every minute: start the scheduled runs that are due (the scheduler claims each firing once). */
export function scheduleRunsJob(tick: () => Promise<unknown>, logger: Logger): { stop(): void } {
  const task = cron.schedule('* * * * *', () => {
    tick().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'schedule tick failed'));
  });
  return { stop: () => void task.stop() };
}
