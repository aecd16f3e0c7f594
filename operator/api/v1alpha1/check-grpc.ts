// predictor.protobufPath (a gRPC API, docs/grpc.md): the rules between it and other fields, as CEL
// rules for the CRD and as checks whose messages name the fields in the caller's naming (the CLI's
// snake_case). The .proto file itself is read where the project is (cli/config, runtime/grpc).

import type { IssueCollector } from './issues.ts';
import { isPlainObject, valueAt } from './schema-walk.ts';

const PYTHON_ONLY =
  'protobufPath (gRPC) is served by python predictors only: the Python worker compiles the .proto with grpcio-tools';
const NO_BATCHING = 'protobufPath and serverSideBatching cannot be used together (as in Cortex): an RPC is one call';
const NO_SCALE_TO_ZERO =
  'a gRPC API (predictor.protobufPath) cannot scale to zero: the activator that holds requests while a replica ' +
  'starts speaks HTTP/1 only; set autoscaling.minReplicas to 1 or more';

export const PREDICTOR_GRPC_RULES = [
  {
    rule: "!has(self.protobufPath) || self.type == 'python'",
    message: PYTHON_ONLY,
    fieldPath: '.protobufPath',
    reason: 'FieldValueForbidden',
  },
  {
    rule: '!has(self.protobufPath) || !has(self.serverSideBatching)',
    message: NO_BATCHING,
    fieldPath: '.serverSideBatching',
    reason: 'FieldValueForbidden',
  },
];

export const SPEC_GRPC_RULES = [
  {
    rule:
      '!has(self.predictor) || !has(self.predictor.protobufPath) || !has(self.autoscaling) || ' +
      '!has(self.autoscaling.minReplicas) || self.autoscaling.minReplicas > 0',
    message: NO_SCALE_TO_ZERO,
    fieldPath: '.autoscaling.minReplicas',
    reason: 'FieldValueInvalid',
  },
];

/** Whether a spec is a gRPC API (predictor.protobufPath set). */
export function isGrpcApi(spec: unknown): boolean {
  return typeof valueAt(spec, ['predictor', 'protobufPath']) === 'string';
}

export function checkGrpc(spec: unknown, ctx: IssueCollector): void {
  if (!isPlainObject(spec) || !isGrpcApi(spec)) return;
  const proto = ['predictor', 'protobufPath'];
  const type = valueAt(spec, ['predictor', 'type']);
  if (type !== 'python') {
    ctx.add({
      path: proto,
      message: `is served by python predictors only (${ctx.name(['predictor', 'type'])} is ${String(type)})`,
      fix:
        `remove ${ctx.name(proto)} and serve the API over HTTP, or write the predictor in Python ` +
        `(${ctx.name(['predictor', 'type'])}: python, a Handler with a method per RPC)`,
    });
  }
  if (valueAt(spec, ['predictor', 'serverSideBatching']) !== undefined) {
    ctx.add({
      path: ['predictor', 'serverSideBatching'],
      message: `cannot be used with ${ctx.name(proto)} (as in Cortex): each RPC is one predictor call`,
      fix: `remove ${ctx.name(['predictor', 'serverSideBatching'])}, or serve the API over HTTP`,
    });
  }
  const min = valueAt(spec, ['autoscaling', 'minReplicas']);
  if (min === 0) {
    ctx.add({
      path: ['autoscaling', 'minReplicas'],
      message:
        `must be 1 or more for a gRPC API (${ctx.name(proto)}): scale to zero holds requests in the activator, ` +
        'which speaks HTTP/1 only',
      fix: `set ${ctx.name(['autoscaling', 'minReplicas'])} to 1`,
    });
  }
}
