// The front's end of one streamed answer (docs/streaming.md): chunks a worker produced, held
// until the HTTP front pipes them to its client, and the two messages that go back to the
// producer (CREDIT, CANCEL in runtime/PROTOCOL.md). Python workers (frames) and TypeScript
// worker threads (messages) each give it their own way of sending those.
import type { ResultStream, StreamError, StreamSink } from '../workers/types.ts';

/**
 * Credit goes back to the producer once this much has gathered. It must stay well under the
 * producer's window (64 KiB, runtime/PROTOCOL.md): a producer waits only with a full window
 * un-credited, and then at least this much is owed, so a CREDIT is always on its way. A stream of
 * small chunks (tokens) thus costs no CREDIT frames at all.
 */
export const CREDIT_BATCH = 16 * 1024;

/** How the consumer's answers reach the producer. */
export interface StreamControl {
  credit(n: number): void;
  cancel(): void;
}

export class WorkerStream implements ResultStream {
  readonly #control: StreamControl;
  #sink: StreamSink | undefined;
  /** Chunks that arrived before pipe(): at most the producer's window. */
  #held: Buffer[] = [];
  #finished = false;
  #error: StreamError | undefined;
  #cancelled = false;
  #listeners: (() => void)[] = [];
  /** Credit not sent yet: it goes back in CREDIT_BATCH steps, not one CREDIT per chunk. */
  #owed = 0;

  constructor(control: StreamControl) {
    this.#control = control;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The producer sent a chunk. */
  push(data: Buffer): void {
    if (this.#finished) return;
    if (this.#sink !== undefined) this.#sink.chunk(data);
    else this.#held.push(data);
  }

  /** The producer stopped (error: it failed, was cancelled, or its worker died). */
  finish(error?: StreamError): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#error = error;
    this.#sink?.end(error);
    for (const listener of this.#listeners.splice(0)) listener();
  }

  pipe(sink: StreamSink): void {
    if (this.#sink !== undefined) throw new Error('a stream is piped once');
    this.#sink = sink;
    const held = this.#held;
    this.#held = [];
    for (const data of held) sink.chunk(data);
    if (this.#finished) sink.end(this.#error);
  }

  credit(n: number): void {
    if (this.#finished || this.#cancelled || n <= 0) return;
    this.#owed += n;
    if (this.#owed < CREDIT_BATCH) return;
    this.#control.credit(this.#owed);
    this.#owed = 0;
  }

  cancel(): void {
    if (this.#finished || this.#cancelled) return;
    this.#cancelled = true;
    this.#held = [];
    this.#control.cancel();
  }

  onFinish(listener: () => void): void {
    if (this.#finished) queueMicrotask(listener);
    else this.#listeners.push(listener);
  }
}
