// Polling for conditions in a real cluster, where a probe may fail for a while (the object is
// not there yet, the API server is still starting) before it succeeds.
import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `fn` every 250 ms until it returns something truthy; errors count as "not yet". */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}
