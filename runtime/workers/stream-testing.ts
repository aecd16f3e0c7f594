// What the Python and TypeScript worker stream tests share: the credit window seen from the front
// (both workers hold a stream after 64 KiB until credited) and waiting for a fixture's marker.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { type PredictResult, type StreamError } from './types.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The text of a fixture's marker file once it has some (fixtures create it empty a moment
 * before they write it), or '' after 10 s. */
export async function waitForFile(path: string): Promise<string> {
  const until = Date.now() + 10_000;
  const text = () => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  while (text() === '' && Date.now() < until) await sleep(20);
  return text();
}

/** A stream of 4 KiB chunks: exactly one window arrives before credit, one more after it, and a
 * cancel stops the producer (its marker says so) and ends the stream as cancelled. */
export async function assertCreditWindow(
  result: PredictResult,
  marker: string,
  worker: { readonly inFlight: number },
  settleMs: number,
): Promise<void> {
  const stream = result.stream!;
  let received = 0;
  let ended: StreamError | undefined | null = null;
  stream.pipe({
    chunk(data) {
      received += data.length;
    },
    end(error) {
      ended = error;
    },
  });
  await sleep(settleMs);
  assert.equal(received, 64 * 1024, 'exactly one window of 4 KiB chunks, then it waits');
  stream.credit(received);
  await sleep(300);
  assert.equal(received, 128 * 1024, 'one more window after the credit');
  stream.cancel();
  assert.match(await waitForFile(marker), /^stopped after \d+$/);
  await sleep(100);
  assert.deepEqual(ended, { error: 'cancelled: the client went away' });
  assert.equal(worker.inFlight, 0);
}
