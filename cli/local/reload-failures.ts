// A ready replica's models that did not reload (issue 17: "a broken new version keeps the old one
// serving and says why in status"), read from its log as `progress` is: the replica logs why a new
// version could not be downloaded (runtime/storage/prepare.ts) and the workers why one failed to
// load (runtime/python/cortex_models.py). A later success for the same model clears it.

const DOWNLOAD_FAILED = /^\S+: the new version of (\S+) could not be downloaded, the current one keeps serving: /;
const DOWNLOADED = /^(\S+): the new version is on disk;/;
const LOAD_FAILED = /^(the model|model '.*?')(?: version \S+)? failed to load from /;
const LOADED = /^(the model|model '.*?')(?: version \S+)? loaded and now served$/;

/** Why each model whose new version is not served failed, in the order they failed, from log messages oldest first. */
export function reloadFailures(messages: string[]): string[] {
  const failing = new Map<string, string>();
  for (const message of messages) {
    let m = DOWNLOAD_FAILED.exec(message);
    if (m) {
      failing.delete(m[1]);
      failing.set(m[1], message);
      continue;
    }
    m = LOAD_FAILED.exec(message);
    if (m) {
      // the message ends with the traceback: its head and the exception are the reason
      const [head, trace = ''] = message.split(/: Traceback \(most recent call last\):/);
      const exception = trace.trim().split('\n').at(-1)?.trim();
      failing.delete(m[1]);
      failing.set(m[1], exception ? `${head}: ${exception}` : head);
      continue;
    }
    m = DOWNLOADED.exec(message) ?? LOADED.exec(message);
    if (m) failing.delete(m[1]);
  }
  return [...failing.values()];
}
