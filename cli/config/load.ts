// Loading a project's cortex.yaml (Cortex's format: a YAML list of APIs, snake_case fields)
// into RealtimeAPI specs, with every problem reported at once, located by line and column.

import fs from 'node:fs';
import path from 'node:path';
import {
  ASYNC_KIND,
  KIND,
  SPLITTER_KIND,
  PREDICTOR_TYPES,
  RealtimeApiSpecSchema,
  applyDefaults,
  isPlainObject,
  validateApiName,
  validateSpec,
  valueAt,
  type RealtimeApiSpec,
  type RealtimeApiSpecInput,
  type JobApiKind,
  type JobApiSpec,
  validateJobApi,
} from '../../operator/api/v1alpha1/index.ts';
import { isJobKind, jobApiAsRealtime, jobSpecOf } from './job-section.ts';
import { ConfigError, byPosition, type ConfigIssue, type ConfigWarning } from './errors.ts';
import { UNSUPPORTED_PREDICTOR_TYPES } from './compat.ts';
import { fromSnakeCase, toSnakePath } from './snake-case.ts';
import { suggest } from './suggest.ts';
import { YamlSource } from './yaml-source.ts';
import { cortex042Fields } from './pod-section.ts';
import { checkProjectFiles } from './project-files.ts';
import { checkModelFiles, modelsAsSpec } from './models-section.ts';
import {
  BOTH_SECTIONS,
  MISSING_PREDICTOR_FIX,
  asWritten,
  handlerAsPredictor,
  readDotEnv,
  type Section,
} from './handler-section.ts';
import { readSplitter, type LoadedSplitter } from './splitter-section.ts';
import { checkAcrossApis, checkSplitters, type ApiEntry, type IssueSink, type SplitterEntry } from './file-checks.ts';
import { checkKind, unknownField } from './field-checks.ts';
import { ProtoError, inspectProto, type ProtoService } from '../../runtime/grpc/proto.ts';

export type { LoadedSplitter } from './splitter-section.ts';

export interface LoadedApi {
  name: string;
  /** AsyncAPI when the spec has its async section (cortex.yaml's kind: AsyncAPI), else RealtimeAPI. */
  kind: typeof KIND | typeof ASYNC_KIND;
  /** The defaulted, validated spec, as a RealtimeAPI resource carries it. */
  spec: RealtimeApiSpec;
  /** Line of the API in the file (1-based). */
  line: number;
}

/** A BatchAPI or TaskAPI of the file (docs/batch.md, docs/task.md). */
export interface LoadedJobApi {
  name: string;
  kind: JobApiKind;
  spec: JobApiSpec;
  line: number;
}

export interface LoadedProject {
  /** Absolute path of the config file. */
  file: string;
  /** Absolute path of the project folder (the folder of the config file). */
  dir: string;
  apis: LoadedApi[];
  /** The BatchAPIs and TaskAPIs, in file order. */
  jobApis: LoadedJobApi[];
  /** The TrafficSplitters (docs/routes.md#traffic-splitting); the APIs they name are in `apis` or deployed. */
  splitters: LoadedSplitter[];
  warnings: ConfigWarning[];
}

/**
 * Fields whose default is computed from others (applyDefaults): left out and invalid only
 * because a field they come from is, they are not reported (that field is).
 */
const COMPUTED_FROM: Record<string, string[]> = {
  'networking.endpoint': ['name'],
  'autoscaling.init_replicas': ['autoscaling.min_replicas'],
  'autoscaling.target_replica_concurrency': [
    'predictor.processes_per_replica',
    'predictor.threads_per_process',
    'pod.max_concurrency',
  ],
};

/** Names looked for when loadProject is given a folder, in this order. */
export const CONFIG_FILE_NAMES = ['cortex.yaml', 'cortex.yml'];

/** The config file meant by `fileOrDir`: the file itself, or cortex.yaml / cortex.yml in a folder. */
export function findConfigFile(fileOrDir: string): string {
  const target = path.resolve(fileOrDir);
  const fail = (message: string, fix: string): never => {
    throw new ConfigError([{ file: target, line: 0, column: 0, api: undefined, field: '', message, fix }]);
  };
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(target);
  } catch {
    return fail('no such file or folder', 'pass the path of a cortex.yaml, or of the folder that holds it');
  }
  if (!stat.isDirectory()) return target;
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = path.join(target, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return fail(
    `no ${CONFIG_FILE_NAMES.join(' or ')} in this folder`,
    'create cortex.yaml here (a list of APIs), or pass the path of your config file',
  );
}

class Loader implements IssueSink {
  readonly file: string;
  readonly dir: string;
  readonly src: YamlSource;
  readonly issues: ConfigIssue[] = [];
  readonly warnings: ConfigWarning[] = [];
  /** What the API being read calls its predictor section: Cortex 0.34+ wrote handler. */
  private section: Section = 'predictor';
  /** The project's .env variables (undefined: no .env file). */
  private dotEnv: Record<string, string> | undefined;
  /** The TrafficSplitters read so far, with where each is. */
  private readonly splitters: SplitterEntry[] = [];
  /** The current API's renamed model fields (models-section.ts). */
  private aliases = new Map<string, string[]>();

  constructor(file: string, src: YamlSource) {
    this.file = file;
    this.dir = path.dirname(file);
    this.src = src;
  }

  /** Records a problem at `field` (snake_case, within the API at `base`). */
  issue(
    api: string | undefined,
    base: (string | number)[],
    field: string[],
    message: string,
    fix: string,
    part: 'key' | 'value' = 'value',
  ): void {
    [field, message, fix] = asWritten(this.section, this.asWritten(field), message, fix);
    const at = this.src.locate([...base, ...field], part);
    this.issues.push({ file: this.file, ...at, api, field: field.join('.'), message, fix });
  }

  warn(api: string | undefined, base: (string | number)[], field: string[], message: string, fix?: string): void {
    [field, message, fix] = asWritten(this.section, this.asWritten(field), message, fix);
    const at = this.src.locate([...base, ...field], 'key');
    this.warnings.push({ file: this.file, ...at, api, field: field.join('.'), message, ...(fix ? { fix } : {}) });
  }

  /** A spec field as the API wrote it (model_path for models.path...: models-section.ts). */
  private asWritten(field: string[]): string[] {
    for (let n = field.length; n > 0; n--) {
      const written = this.aliases.get(field.slice(0, n).join('.'));
      if (written) return [...written, ...field.slice(n)];
    }
    return field;
  }

  load(): LoadedProject {
    const dotEnv = readDotEnv(this.dir);
    this.dotEnv = dotEnv.vars;
    this.issues.push(...dotEnv.issues);
    const root = this.src.value;
    const items: { value: unknown; base: (string | number)[] }[] = Array.isArray(root)
      ? root.map((value, i) => ({ value, base: [i] }))
      : isPlainObject(root)
        ? [{ value: root, base: [] }]
        : [];
    if (root === undefined || root === null || (Array.isArray(root) && root.length === 0)) {
      this.issue(
        undefined,
        [],
        [],
        'no APIs defined',
        'list your APIs, e.g. "- name: iris-classifier" with kind: RealtimeAPI and a predictor (type, path)',
      );
    } else if (items.length === 0) {
      this.issue(
        undefined,
        [],
        [],
        'must be a list of APIs',
        'write each API as a list item: "- name: ...", with kind and predictor under it',
      );
    }
    const entries: ApiEntry[] = [];
    for (const item of items) {
      const entry = this.loadApi(item.value, item.base);
      if (entry) entries.push(entry);
    }
    checkAcrossApis(this, entries);
    checkSplitters(this, entries, this.splitters);
    if (this.issues.length > 0) throw new ConfigError(this.issues, this.warnings.sort(byPosition));
    return {
      file: this.file,
      dir: this.dir,
      apis: entries
        .filter((e) => e.kind === KIND)
        .map((e) => ({ name: e.name!, kind: e.spec.async ? ASYNC_KIND : KIND, spec: e.spec, line: e.line })),
      jobApis: entries.flatMap((e) =>
        e.kind === KIND ? [] : [{ name: e.name!, kind: e.kind, spec: jobSpecOf(e.spec), line: e.line }],
      ),
      splitters: this.splitters.map(({ base: _base, ...s }) => s),
      warnings: this.warnings.sort(byPosition),
    };
  }

  private loadApi(written: unknown, base: (string | number)[]): ApiEntry | undefined {
    if (isPlainObject(written) && written.kind === SPLITTER_KIND) {
      this.loadSplitter(written, base);
      return undefined;
    }
    this.section = 'predictor';
    try {
      if (isPlainObject(written) && isJobKind(written.kind)) return this.readJobApi(written, written.kind, base);
      return this.readApi(written, base);
    } finally {
      this.section = 'predictor';
    }
  }

  private readApi(written: unknown, base: (string | number)[]): ApiEntry | undefined {
    const line = this.src.locate(base, 'key').line;
    if (!isPlainObject(written)) {
      this.issue(
        undefined,
        base,
        [],
        'an API must be a mapping (name, kind, predictor, ...)',
        'write the API as "- name: ..." followed by its fields, indented',
      );
      return undefined;
    }
    const name = typeof written.name === 'string' && written.name !== '' ? written.name : undefined;
    if (written.name === undefined || written.name === null) {
      this.issue(undefined, base, ['name'], 'is required', 'add a name, e.g. name: iris-classifier', 'key');
    } else {
      const bad = validateApiName(written.name);
      if (bad) this.issue(name, base, ['name'], bad.message, bad.fix);
    }
    if (!checkKind(this, name, base, written.kind)) return undefined;
    // Cortex 0.34-0.35 renamed the predictor section handler (and the class Handler): same fields.
    const renamed = handlerAsPredictor(written);
    if (renamed.conflict) this.issue(name, base, ['handler'], BOTH_SECTIONS.message, BOTH_SECTIONS.fix, 'key');
    this.section = renamed.section;
    // Cortex 0.20-0.25's model fields (model_path, models, multi_model_reloading) become predictor.models
    const models = isPlainObject(renamed.api.predictor) ? modelsAsSpec(renamed.api.predictor) : undefined;
    if (models) renamed.api.predictor = models.predictor;
    this.aliases = models?.aliases ?? new Map();
    for (const i of models?.issues ?? []) this.issue(name, base, i.field, i.message, i.fix, 'key');
    for (const w of models?.warnings ?? []) this.warn(name, base, w.field, w.message, w.fix);

    // Cortex 0.36-0.42 (pod:) moved node_groups and renamed target_replica_concurrency
    const podForm = cortex042Fields(renamed.api);
    for (const p of podForm.problems) this.issue(name, base, p.field, p.message, p.fix, 'key');
    const raw = podForm.api;
    const { name: _name, kind: _kind, ...fields } = raw;
    const predictorType = isPlainObject(raw.predictor) ? raw.predictor.type : undefined;
    const handled = new Set<string>();
    const input = fromSnakeCase(fields, RealtimeApiSpecSchema, [], (field, known) =>
      unknownField(this, name, base, raw, field, known, predictorType),
    );

    const modelServer = typeof predictorType === 'string' && Object.hasOwn(UNSUPPORTED_PREDICTOR_TYPES, predictorType);
    if (modelServer) {
      this.issue(
        name,
        base,
        ['predictor', 'type'],
        `predictor type "${predictorType}" is not supported (${UNSUPPORTED_PREDICTOR_TYPES[predictorType].why}); ` +
          `supported types: ${PREDICTOR_TYPES.join(', ')}`,
        UNSUPPORTED_PREDICTOR_TYPES[predictorType].fix,
      );
      handled.add('predictor.type');
    }

    if (written.kind === ASYNC_KIND) (input as RealtimeApiSpecInput).async ??= {};
    else if (fields.async !== undefined) {
      this.issue(name, base, ['async'], 'is the section of an AsyncAPI', `write kind: ${ASYNC_KIND}`, 'key');
    }
    const spec = applyDefaults(name ?? 'api', input as RealtimeApiSpecInput);
    const problems = validateSpec(spec, { rename: toSnakePath });
    // A default computed from a bad value is bad too; the first error names what the user wrote.
    const bad = new Set(problems.map((p) => toSnakePath(p.path).join('.')));
    if (raw.name !== undefined && validateApiName(raw.name)) bad.add('name');
    for (const problem of problems) {
      const field = toSnakePath(problem.path);
      if (handled.has(field.join('.'))) continue;
      const sources = COMPUTED_FROM[field.join('.')];
      if (sources && valueAt(raw, field) === undefined && sources.some((f) => bad.has(f))) continue;
      let fix = problem.fix ?? 'correct the value';
      if (field.length === 1 && field[0] === 'predictor' && raw.predictor === undefined) fix = MISSING_PREDICTOR_FIX;
      const value = valueAt(spec, problem.path);
      if (problem.allowed && typeof value === 'string') {
        const close = suggest(value, problem.allowed);
        if (close) fix = `write ${close}`;
      }
      handled.add(field.join('.'));
      this.issue(name, base, field, problem.message, fix);
    }
    if (!handled.has('predictor.path') && !modelServer) {
      checkProjectFiles(
        this.dir,
        spec,
        raw,
        (field, message, fix) => this.issue(name, base, field, message, fix),
        (field) => handled.has(field.join('.')),
      );
      checkModelFiles(this.dir, spec, (field, message, fix) => {
        if (!handled.has(field.join('.'))) this.issue(name, base, field, message, fix);
      });
      if (!handled.has('predictor.protobuf_path')) this.readProto(name, base, raw, spec);
    }
    if (this.dotEnv !== undefined && isPlainObject(spec.predictor)) {
      // Cortex sourced .env when the API started, over the API's own env: its values win.
      spec.predictor.env = { ...(isPlainObject(spec.predictor.env) ? spec.predictor.env : {}), ...this.dotEnv };
    }
    return { name, kind: KIND, spec, line, base };
  }

  /** A BatchAPI or TaskAPI: read as a RealtimeAPI's sections, less what only a RealtimeAPI has. */
  private readJobApi(written: Record<string, unknown>, kind: JobApiKind, base: (string | number)[]) {
    const { api, problems } = jobApiAsRealtime(written, kind);
    const name = typeof written.name === 'string' ? written.name : undefined;
    for (const p of problems) this.issue(name, base, p.field, p.message, p.fix, 'key');
    const entry = this.readApi({ ...api, kind: KIND }, base);
    if (!entry?.spec.predictor) return entry && { ...entry, kind };
    for (const i of validateJobApi(kind, jobSpecOf(entry.spec))) {
      this.issue(name, base, toSnakePath(i.path), i.message, i.fix);
    }
    return { ...entry, kind };
  }

  /**
   * A gRPC API's .proto (runtime/grpc/proto.ts) must be servable; its endpoint is /<package>.<Service>,
   * as Cortex 0.33-0.35 set it (a GRPCRoute matches that service; two APIs cannot serve one).
   */
  private readProto(
    name: string | undefined,
    base: (string | number)[],
    raw: Record<string, unknown>,
    spec: RealtimeApiSpec,
  ) {
    const proto = isPlainObject(spec.predictor) ? spec.predictor.protobufPath : undefined;
    if (typeof proto !== 'string') return;
    let service: ProtoService;
    try {
      service = inspectProto(this.dir, proto);
    } catch (error) {
      if (!(error instanceof ProtoError)) throw error;
      return this.issue(name, base, ['predictor', 'protobuf_path'], error.message, error.fix);
    }
    const endpoint = `/${service.fullName}`;
    if (valueAt(raw, ['networking', 'endpoint']) === undefined) spec.networking.endpoint = endpoint;
    else if (spec.networking.endpoint !== endpoint) {
      this.issue(
        name,
        base,
        ['networking', 'endpoint'],
        `must be ${endpoint} for a gRPC API: the service of its .proto file (protobuf_path), which calls are routed by`,
        `remove networking.endpoint (it defaults to ${endpoint}), or write ${endpoint}`,
      );
    }
  }

  private loadSplitter(written: Record<string, unknown>, base: (string | number)[]): void {
    const line = this.src.locate(base, 'key').line;
    const name = typeof written.name === 'string' && written.name !== '' ? written.name : undefined;
    if (written.name === undefined || written.name === null) {
      this.issue(undefined, base, ['name'], 'is required', 'add a name, e.g. name: sentiment', 'key');
    } else {
      const bad = validateApiName(written.name);
      if (bad) this.issue(name, base, ['name'], bad.message, bad.fix);
    }
    const spec = readSplitter(name ?? 'splitter', written, (field, message, fix, part) =>
      this.issue(name, base, field.map(String), message, fix, part),
    );
    if (spec && name) this.splitters.push({ name, kind: SPLITTER_KIND, spec, line, base });
  }
}

/**
 * Loads a project: `fileOrDir` is a config file, or a folder holding cortex.yaml (or
 * cortex.yml). Returns the APIs as defaulted RealtimeAPI specs, with warnings for settings
 * that are ignored; throws ConfigError listing every problem found, each with file, line,
 * column, API, field (as written, snake_case), message and fix.
 */
export function loadProject(fileOrDir: string): LoadedProject {
  const file = findConfigFile(fileOrDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      {
        file,
        line: 0,
        column: 0,
        api: undefined,
        field: '',
        message: `cannot read the file: ${(err as Error).message}`,
        fix: 'check its permissions',
      },
    ]);
  }
  const src = new YamlSource(text);
  if (src.errors.length > 0) {
    throw new ConfigError(
      src.errors.map((e) => ({
        file,
        line: e.line,
        column: e.column,
        api: undefined,
        field: '',
        message: `invalid YAML: ${e.message}`,
        fix: 'correct the YAML syntax here (indentation, colons, quotes)',
      })),
    );
  }
  const loader = new Loader(file, src);
  for (const w of src.warnings)
    loader.warnings.push({ file, line: w.line, column: w.column, api: undefined, field: '', message: w.message });
  return loader.load();
}
