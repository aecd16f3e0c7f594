// The .proto file of a gRPC API (predictor.protobufPath, docs/grpc.md), read with protobufjs: its one
// service and RPCs, for the CLI's checks before a deploy (cli/config) and for the front that serves
// it (runtime/grpc/front.ts). Imports resolve from the project folder first (protoc's -I <project>),
// then beside the importing file; Google's well-known types (google/protobuf/*.proto) are built in.

import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

export interface RpcMethod {
  /** As written in the service (Cortex calls the predictor method of this name). */
  name: string;
  /** The HTTP/2 path gRPC calls it at: /<package>.<Service>/<Method>. */
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  /** Full names of the messages, without the leading dot. */
  requestType: string;
  responseType: string;
}

export interface ProtoService {
  /** Absolute path of the .proto file. */
  file: string;
  /** <package>.<Service> (what the health service and reflection name). */
  fullName: string;
  methods: RpcMethod[];
  /** The project's .proto files it needs (itself and what it imports), relative to the project folder. */
  files: string[];
}

/** A problem with the .proto file: what is wrong and what to change. */
export class ProtoError extends Error {
  readonly fix: string;
  constructor(message: string, fix: string) {
    super(message);
    this.name = 'ProtoError';
    this.fix = fix;
  }
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function servicesOf(ns: protobuf.NamespaceBase, out: protobuf.Service[]): void {
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Service) out.push(child);
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) servicesOf(child, out);
  }
}

/** Reads `protobufPath` (relative to `projectDir`): its one service, with unary or server-streaming RPCs. */
export function inspectProto(projectDir: string, protobufPath: string): ProtoService {
  const file = path.resolve(projectDir, protobufPath);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new ProtoError(
      `file not found: ${file}`,
      `create the .proto file, or correct protobuf_path (it is relative to the folder of cortex.yaml, ${projectDir})`,
    );
  }
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    const fromProject = path.resolve(projectDir, target);
    if (fs.existsSync(fromProject)) return fromProject;
    return origin ? path.resolve(path.dirname(origin), target) : fromProject;
  };
  try {
    root.loadSync(file, { keepCase: true });
    root.resolveAll();
  } catch (error) {
    throw new ProtoError(
      `${protobufPath} cannot be read: ${(error as Error).message}`,
      'correct the .proto file (proto3 syntax, as protoc accepts it); imports are found relative to the project folder',
    );
  }
  const all: protobuf.Service[] = [];
  servicesOf(root, all);
  const own = all.filter((s) => s.filename !== null && path.resolve(s.filename) === file);
  if (own.length !== 1) {
    const names = own.map((s) => s.name).join(', ');
    throw new ProtoError(
      own.length === 0
        ? `${protobufPath} defines no service; a gRPC API serves exactly one`
        : `${protobufPath} defines ${own.length} services (${names}); a gRPC API serves exactly one (as in Cortex)`,
      own.length === 0
        ? 'define one service with its RPCs, e.g. service Handler { rpc Predict (Sample) returns (Response); }'
        : 'keep one service in this file (move the others to their own API and .proto file)',
    );
  }
  const service = own[0];
  const fullName = service.fullName.replace(/^\./, '');
  const methods = service.methodsArray.map((m) => {
    m.resolve();
    return {
      name: m.name,
      path: `/${fullName}/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestType: m.resolvedRequestType!.fullName.replace(/^\./, ''),
      responseType: m.resolvedResponseType!.fullName.replace(/^\./, ''),
    };
  });
  if (methods.length === 0) {
    throw new ProtoError(
      `service ${service.name} in ${protobufPath} has no RPC`,
      `add one, e.g. rpc Predict (Sample) returns (Response); and a method Predict(self, payload) to the predictor`,
    );
  }
  for (const m of methods) {
    if (!m.requestStream) continue;
    const kind = m.responseStream ? 'bidirectional streaming' : 'client streaming';
    throw new ProtoError(
      `rpc ${m.name} of service ${service.name} in ${protobufPath} is ${kind} (stream in its request); ` +
        'only unary and server-streaming RPCs are supported',
      `make the request one message (rpc ${m.name} (${m.requestType.split('.').pop()}) returns ...); ` +
        'a server-streaming reply (returns (stream Reply)) is supported, through a predictor method that yields',
    );
  }
  const files = root.files
    .map((f) => path.resolve(f))
    .filter((f) => isInside(projectDir, f))
    .map((f) => path.relative(projectDir, f));
  return { file, fullName, methods, files };
}
