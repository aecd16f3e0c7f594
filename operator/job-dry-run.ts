// Cortex's POST <endpoint>?dryRun=true: the URLs of the objects a BatchAPI job would read, one a
// line, then `validations passed`, as text/plain (Cortex answered dry runs in plain text, "because
// it is typically consumed by people"); no job is created and nothing is enqueued. The listing is
// the enqueuer's (runtime/batch/bucket-items.ts listJobFiles), so its errors are the job's: a
// bucket that does not exist, a path that lists nothing, includes/excludes that keep nothing.
//
// Cortex gathered the whole list before answering; here the lines are held up to HOLD_BYTES, so a
// listing that fails within them is a 400 with the error alone, and a longer one is streamed (the
// operator runs in 160 MiB): an error after that point ends the 200 answer with a blank line and
// the error in place of `validations passed`, as Cortex wrote its errors ("\n<error>\n").
import type { ServerResponse } from 'node:http';
import { BucketItemsError } from '../runtime/batch/bucket-items.ts';

/** The last line of a dry run that listed everything (Cortex's words). */
export const DRY_RUN_DONE = 'validations passed';

/** Lines held before the answer starts (1 MiB: about 10,000 URLs). */
export const HOLD_BYTES = 1024 * 1024;

/** Go's strconv.ParseBool, which Cortex read the parameter with; undefined for anything else. */
export function parseBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  return undefined;
}

function start(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
}

/** Writes `text`, waiting for the socket to drain so a big listing is not held in its buffer. */
async function write(res: ServerResponse, text: string): Promise<void> {
  if (!res.write(text)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
}

/**
 * Answers the dry run of `files` (listJobFiles). A BucketItemsError (the job's data: bucket,
 * prefix, patterns) is the client's: 400, or the end of a streamed answer; another error throws
 * while nothing was written (the caller's 500), or ends a streamed answer with it.
 */
export async function answerDryRun(res: ServerResponse, files: AsyncIterable<string>): Promise<void> {
  let held: string[] | undefined = [];
  let heldBytes = 0;
  try {
    for await (const url of files) {
      if (res.destroyed) return; // the client left: stop listing
      const line = url + '\n';
      if (held === undefined) {
        await write(res, line);
        continue;
      }
      held.push(line);
      heldBytes += Buffer.byteLength(line);
      if (heldBytes > HOLD_BYTES) {
        start(res, 200);
        await write(res, held.join(''));
        held = undefined;
      }
    }
  } catch (error) {
    if (held !== undefined) {
      if (!(error instanceof BucketItemsError)) throw error;
      start(res, 400);
      return void res.end(error.message + '\n');
    }
    return void res.end(`\n${(error as Error).message}\n`);
  }
  if (held !== undefined) start(res, 200);
  res.end((held ?? []).join('') + DRY_RUN_DONE);
}
