// A store call retried until the store answers: Redis restarting or away for a while delays a job,
// it does not fail it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../operator/util/log.ts';

export async function retrying<T>(logger: Logger, fn: () => Promise<T>): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await fn();
    } catch (error) {
      logger.warn(`store: ${error instanceof Error ? error.message : String(error)}`);
      await sleep(Math.min(1000, 50 * 2 ** failures));
    }
  }
}
