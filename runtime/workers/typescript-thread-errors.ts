// How a TypeScript predictor's thread words errors and values for users: the `"<name>:
// <message>"` of an error answer, a stack trace cut where the thread's own code begins, and
// "a Map" / "an undefined" for values of the wrong kind. Used by every part of the thread,
// including before the predictor is loaded.

// The thread's own modules (typescript-thread.ts and typescript-thread-*.ts) end a stack trace
// shown to users: their frames say nothing to a user.
const THREAD_FILES = new URL('./typescript-thread', import.meta.url).href;

export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  if (err !== null && typeof err === 'object' && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown };
    return `${String(e.name ?? 'Error')}: ${String(e.message)}`;
  }
  return `Error: ${String(err)}`;
}

/** The error's stack without the frames of the thread's own code. */
export function stackText(err: unknown): string {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return errorText(err);
  const lines = err.stack.split('\n');
  const cut = lines.findIndex((l, i) => i > 0 && l.includes(THREAD_FILES));
  return (cut === -1 ? lines : lines.slice(0, cut)).join('\n');
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: string } }).constructor?.name || 'object';
    return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
  }
  return `${/^[aeiou]/i.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}
