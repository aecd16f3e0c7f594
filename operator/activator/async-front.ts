// The activator answers an AsyncAPI's front itself while the API has no ready replica (at zero,
// or waking): a POST is queued at once and answered with its id, GET <id> reads the record, and
// the API is woken to work the queue (docs/async.md, "Scale to zero"). Holding a POST for the
// cold start would make a client wait minutes for an id it should get at once.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDurationMs, type AsyncSpec } from '../api/v1alpha1/index.ts';
import { serveAsync } from '../../runtime/async/front.ts';
import { asyncNames } from '../../runtime/async/records.ts';
import { openBroker } from '../../runtime/queue/open.ts';
import type { Broker } from '../../runtime/queue/types.ts';

/** Largest request body queued by the activator (the replicas' default --max-body-size). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

export type AsyncFrontHandler = (
  namespace: string,
  name: string,
  settings: AsyncSpec,
  req: IncomingMessage,
  res: ServerResponse,
) => Promise<void>;

/** A front on the queue at `url`; close() ends its connection. */
export function activatorAsyncFront(url: string): { serve: AsyncFrontHandler; close(): Promise<void> } {
  // fails fast: a POST while Redis is away answers 503 (retry), it is never queued later
  const broker: Broker = openBroker(url, { failFast: true });
  return {
    serve(namespace, name, settings, req, res) {
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const pathname = q < 0 ? raw : raw.slice(0, q);
      const rest = pathname === '/' || pathname === '/predict' ? '' : pathname;
      return serveAsync(
        {
          broker,
          names: asyncNames(namespace, name),
          resultTtlMs: parseDurationMs(settings.resultTtl),
          maxBodyBytes: MAX_BODY_BYTES,
        },
        req,
        res,
        rest,
        q < 0 ? '' : raw.slice(q + 1),
      );
    },
    close: () => broker.close(),
  };
}
