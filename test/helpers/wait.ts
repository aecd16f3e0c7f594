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

/**
 * Waits until `url`/readyz answers 200 from a server process; throws with its output when it
 * exits first or the time runs out.
 */
export async function waitForReadyz(
  what: string,
  url: string,
  server: { exitCode: number | null },
  output: () => string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (server.exitCode !== null) return true; // said below, with its output
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.ok;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}:\n${output()}`);
  });
  if (server.exitCode !== null) throw new Error(`${what}: the server exited ${server.exitCode}:\n${output()}`);
}
