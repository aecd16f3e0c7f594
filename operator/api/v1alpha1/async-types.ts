// spec.async: what makes an API an AsyncAPI (Cortex 0.33+, issue 18). An AsyncAPI has every
// section of a RealtimeAPI (predictor, compute, autoscaling, update_strategy, networking), so it
// is this one section on the same spec rather than a second copy of the schema; cortex.yaml's
// `kind: AsyncAPI` sets it (cli/config/load.ts). Requests are queued (runtime/queue), the replicas
// consume the queue (runtime/async/worker.ts) and the front answers with an id at once.
import { Type, type Static } from '@sinclair/typebox';
import type { IssueCollector } from './issues.ts';
import { Duration, Struct } from './schema-helpers.ts';
import { isPlainObject, valueAt } from './schema-walk.ts';

/** cortex.yaml's kind for an API with spec.async. */
export const ASYNC_KIND = 'AsyncAPI';

export const AsyncSchema = Struct(
  {
    resultTtl: Duration({
      default: '24h',
      description:
        "How long a request's status and result are kept after it was queued or last changed state; " +
        'GET <endpoint>/<id> answers 404 after that. Default: 24h.',
    }),
    redeliverAfter: Duration({
      default: '30s',
      description:
        'A request whose replica stopped reporting progress (killed, frozen) this long is given to another ' +
        'replica. Replicas report every third of it while a request runs, so a slow predictor keeps its ' +
        'request. Default: 30s.',
    }),
    maxDeliveries: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 3,
      description:
        'Tries a request gets (its replica died, or its worker answered 503) before it is marked failed ' +
        'and moved to the dead-letter stream. Default: 3.',
    }),
  },
  {
    description:
      'Makes the API asynchronous (cortex.yaml kind: AsyncAPI): POST <endpoint> queues the request and ' +
      'answers {"id"} at once; GET <endpoint>/<id> answers its status (in_queue, in_progress, completed, ' +
      'failed) and result. The replicas take requests from the queue; docs/async.md.',
  },
);

export type AsyncSpec = Static<typeof AsyncSchema>;

/** The CEL rules on the spec that involve async. */
export const SPEC_ASYNC_RULES = [
  {
    rule: '!has(self.async) || has(self.predictor)',
    message: 'async needs a predictor: an API of your own containers (pod) cannot be asynchronous',
    fieldPath: '.async',
    reason: 'FieldValueInvalid',
  },
  {
    rule: '!has(self.async) || !has(self.predictor) || !has(self.predictor.protobufPath)',
    message: 'async cannot be combined with predictor.protobufPath (gRPC APIs answer at once)',
    fieldPath: '.async',
    reason: 'FieldValueInvalid',
  },
];

/** The checks SPEC_ASYNC_RULES make in the CRD, for validateSpec (the CLI, the operator). */
export function checkAsync(spec: unknown, ctx: IssueCollector): void {
  if (!isPlainObject(spec) || valueAt(spec, ['async']) === undefined) return;
  if (valueAt(spec, ['predictor']) === undefined) {
    ctx.add({
      path: ['async'],
      message: 'needs a predictor: an API of your own containers (pod) cannot be asynchronous',
      fix: 'serve the predictor class of the API (predictor: type, path), or make it a RealtimeAPI',
    });
  }
  if (valueAt(spec, ['predictor', 'protobufPath']) !== undefined) {
    ctx.add({
      path: ['predictor', 'protobufPath'],
      message: 'cannot be used in an AsyncAPI: gRPC calls are answered at once',
      fix: `remove ${ctx.name(['predictor', 'protobufPath'])}, or make the API a RealtimeAPI`,
    });
  }
}

/** An AsyncAPI where the operator has no queue: what its status and `cortex deploy` say. */
export const ASYNC_NEEDS_QUEUE = {
  message: "an AsyncAPI's requests go through a queue, and the operator has none configured",
  fix:
    'set the chart value queue.url (redis://HOST:PORT) or queue.install=true, or run the operator with ' +
    '--queue-url / CORTEX_QUEUE_URL (docs/async.md)',
};
