// A worker's RESPONSE to an RPC (runtime/python/cortex_grpc.py) as a gRPC answer: the status code,
// its details, the trailing and initial metadata, and the reply bytes (a server-streaming RPC's
// replies come as a stream instead: stream.ts).

import { Metadata, status as Status } from '@grpc/grpc-js';
import { BodyKind, type PredictResult } from '../workers/types.ts';

export interface GrpcAnswer {
  code: Status;
  details: string;
  trailers: Metadata;
  initial: Metadata | undefined;
  body: Buffer;
}

/** The HTTP status an answer is counted as in cortex_requests_total (grpc-gateway's mapping). */
export const HTTP_OF_CODE = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** The runtime's own refusals (JSON {"error"} with an HTTP status: 503 worker gone, 504 timeout...). */
function codeOfHttp(status: number): Status {
  if (status === 503) return Status.UNAVAILABLE;
  if (status === 504) return Status.DEADLINE_EXCEEDED;
  if (status === 429 || status === 431 || status === 413) return Status.RESOURCE_EXHAUSTED;
  if (status === 400) return Status.INVALID_ARGUMENT;
  if (status === 401) return Status.UNAUTHENTICATED;
  return Status.INTERNAL;
}

function addPair(md: Metadata, key: string, value: string): void {
  if (key.endsWith('-bin')) md.add(key, Buffer.from(value, 'base64'));
  else md.add(key, value);
}

export function grpcAnswer(result: PredictResult): GrpcAnswer {
  const trailers = new Metadata();
  if (result.kind === BodyKind.Bytes && result.status === 200) {
    return { code: Status.OK, details: '', trailers, initial: undefined, body: result.body };
  }
  if (result.kind !== BodyKind.Custom) {
    let details = result.body.toString('utf8');
    try {
      details = (JSON.parse(details) as { error?: string }).error ?? details;
    } catch {
      // not JSON: the text is the details
    }
    return { code: codeOfHttp(result.status), details, trailers, initial: undefined, body: Buffer.alloc(0) };
  }
  let code: Status = Status.UNKNOWN;
  let details = '';
  let initial: Metadata | undefined;
  for (const [key, value] of result.headers ?? []) {
    if (key === 'grpc-status') code = Number(value) as Status;
    else if (key === 'grpc-message') details = value;
    else if (key.startsWith('initial:')) addPair((initial ??= new Metadata()), key.slice('initial:'.length), value);
    else addPair(trailers, key, value);
  }
  return { code, details, trailers, initial, body: result.body };
}
