// The predict requests a replica has taken and not answered yet: counted for draining, walked
// when the grace period ends, checked before an answer is written (once only).
// An intrusive doubly linked list rather than a Map keyed by the response: a Map with one
// insert and one delete per request keeps its backing store busy with entries of objects the
// young generation would otherwise free, and under load every scavenge of the front copied
// tens of megabytes and took 20-40 ms (--trace-gc), the whole p99 tail.
import type http from 'node:http';
import type { PredictJob } from './workers/types.ts';

export interface Exchange {
  readonly res: http.ServerResponse;
  /** Set once the body has arrived and the job was submitted. */
  job: PredictJob | undefined;
  /** The name of the API key it came with (networking.auth: api_key), for the access log. */
  apiKey: string | undefined;
  /** Set while its answer streams (docs/streaming.md): the stream's own writer handles a client that leaves. */
  streaming: boolean;
  /** False once answered, refused or abandoned. */
  open: boolean;
  prev: Exchange | undefined;
  next: Exchange | undefined;
}

export class OpenExchanges {
  private head: Exchange | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  open(res: http.ServerResponse): Exchange {
    const exchange: Exchange = {
      res,
      job: undefined,
      apiKey: undefined,
      streaming: false,
      open: true,
      prev: undefined,
      next: this.head,
    };
    if (this.head !== undefined) this.head.prev = exchange;
    this.head = exchange;
    this.count++;
    return exchange;
  }

  /** Returns false when it was closed already. */
  close(exchange: Exchange): boolean {
    if (!exchange.open) return false;
    exchange.open = false;
    const { prev, next } = exchange;
    if (prev !== undefined) prev.next = next;
    else this.head = next;
    if (next !== undefined) next.prev = prev;
    exchange.prev = exchange.next = undefined;
    this.count--;
    return true;
  }

  /** A copy of the open exchanges, so closing them while walking is safe. */
  snapshot(): Exchange[] {
    const all: Exchange[] = [];
    for (let x = this.head; x !== undefined; x = x.next) all.push(x);
    return all;
  }
}
