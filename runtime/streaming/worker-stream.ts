// The front's end of one streamed answer (docs/streaming.md): chunks a worker produced, held
// until the HTTP front pipes them to its client, and the two messages that go back to the
// producer (CREDIT, CANCEL in runtime/PROTOCOL.md). Python workers (frames) and TypeScript
// worker threads (messages) each give it their own way of sending those.
import type { ResultStream, StreamError, StreamSink } from '../workers/types.ts';

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
  /** Credit not sent yet: what one tick gathers goes as one CREDIT, not one per chunk. */
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
    if (this.#owed === 0) setImmediate(this.#sendCredit);
    this.#owed += n;
  }

  readonly #sendCredit = (): void => {
    const n = this.#owed;
    this.#owed = 0;
    if (!this.#finished && !this.#cancelled) this.#control.credit(n);
  };

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
