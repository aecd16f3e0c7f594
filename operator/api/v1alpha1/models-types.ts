// predictor.models: the models the runtime finds, loads and live-reloads for a predictor (Cortex
// 0.20–0.25's model_path / models / multi_model_reloading). An onnx predictor must have them (its
// onnx_client runs them); a python predictor may (its python_client hands out what its load_model
// returned). The runtime side is runtime/python/cortex_models.py.

import { Type, type Static } from '@sinclair/typebox';
import { Duration, Struct } from './schema-helpers.ts';
import type { IssueCollector } from './issues.ts';
import { valueAt } from './schema-walk.ts';
import { parseDurationMs } from './duration.ts';
import { ANY_URI_PATTERN, STORAGE_URI_PATTERN, StorageUriError, isUri, parseStorageUri } from './storage-uri.ts';

export { STORAGE_URI_PATTERN } from './storage-uri.ts';

/** A model name: a folder name under models.dir, or a name in models.paths (a URL query value). */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

/** How often the runtime looks for new, changed and removed model versions unless told. */
export const DEFAULT_RELOAD_INTERVAL = '10s';

const SOURCE_TEXT =
  'A folder (or, for onnx, a .onnx file) on the replica: relative paths start at the project folder ' +
  '(the models travel with the project), absolute ones are read where the replica runs. ' +
  'Or a storage URI, downloaded by the replica before its predictor starts (cached on the node): ' +
  's3://bucket/prefix, gs://bucket/prefix, https://host/file (a .tar.gz, .tgz or .zip is unpacked), ' +
  'hf://org/model@revision (Hugging Face Hub), pvc://claim/path (a PersistentVolumeClaim, cluster only).';

const Source = (what: string) =>
  // maxLength 1024: within the CEL cost budget of the rule on every paths[].path
  Type.String({ minLength: 1, maxLength: 1024, description: `${what} ${SOURCE_TEXT}` });

const uriRule = (field: string) => ({
  rule:
    `!has(self.${field}) || !self.${field}.matches('${ANY_URI_PATTERN}') || ` +
    `self.${field}.matches('${STORAGE_URI_PATTERN}')`,
  message: `${field}: only s3://, gs://, http(s)://, hf:// and pvc:// URIs are supported`,
  fieldPath: `.${field}`,
  reason: 'FieldValueInvalid',
});

const Endpoint = (what: string) =>
  Type.String({ minLength: 1, maxLength: 1024, pattern: '^https?://', description: what });

/** Where storage URIs are downloaded from and with which credentials (never the credentials themselves). */
export const StorageSchema = Struct(
  {
    secret: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
        description:
          "A Secret in the API's namespace whose keys become the replica's environment: AWS_ACCESS_KEY_ID, " +
          'AWS_SECRET_ACCESS_KEY (s3://), GOOGLE_APPLICATION_CREDENTIALS_JSON or GOOGLE_OAUTH_ACCESS_TOKEN ' +
          '(gs://), HF_TOKEN (hf://), STORAGE_HTTP_AUTHORIZATION (https://). Cluster only: locally the ' +
          "replica reads the same variables from the CLI's environment.",
      }),
    ),
    s3Endpoint: Type.Optional(
      Endpoint('An S3-compatible endpoint (MinIO, Ceph...). Default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS.'),
    ),
    gcsEndpoint: Type.Optional(
      Endpoint('A GCS-compatible endpoint. Default: STORAGE_EMULATOR_HOST, or https://storage.googleapis.com.'),
    ),
    hfEndpoint: Type.Optional(
      Endpoint('A Hugging Face Hub (a mirror, a private Hub). Default: HF_ENDPOINT, or https://huggingface.co.'),
    ),
  },
  { description: 'How storage URIs of models are reached (issue 17; docs/models.md#storage).' },
);

export const NamedModelSchema = Struct(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: MODEL_NAME_PATTERN,
      description: "The model's name: what get_model(name) and onnx_client.predict(input, name) ask for.",
    }),
    path: Source('Where the model is: its files, or integer version folders (1/, 2/...) holding them.'),
  },
  { description: 'One model of models.paths.', 'x-kubernetes-validations': [uriRule('path')] },
);

export const ModelsSchema = Struct(
  {
    path: Type.Optional(
      Source('The one model of the API: its files, or integer version folders (1/, 2/...; the highest is "latest").'),
    ),
    paths: Type.Optional(
      Type.Array(NamedModelSchema, {
        minItems: 1,
        maxItems: 1024,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        description: 'Several models, each with its name and path.',
      }),
    ),
    dir: Type.Optional(
      Source(
        'A folder of models: each subfolder is a model named after it, holding its files or integer version folders. ' +
          'Models added or removed there are picked up while the API runs.',
      ),
    ),
    cacheSize: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description:
          'Models (name and version) each predictor process keeps loaded: none is loaded at start, ' +
          'each is loaded when first asked for, and the least recently used is unloaded to make room. ' +
          'Only with dir or paths. Default: every model is loaded at start and stays loaded.',
      }),
    ),
    diskCacheSize: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description:
          'Models kept on local disk, at least cacheSize; needs cacheSize. Model folders are on disk ' +
          '(local, or downloaded into the node cache, whose cap is a size: CORTEX_MODEL_CACHE_MAX_SIZE), ' +
          'so it only bounds cacheSize.',
      }),
    ),
    storage: Type.Optional(StorageSchema),
    reloadInterval: Type.Optional(
      Duration({
        description:
          'How often each predictor process looks for new, changed and removed model versions; a new version is ' +
          'loaded before it replaces the one being served, and one that fails to load leaves the old one serving. ' +
          `Default: ${DEFAULT_RELOAD_INTERVAL}.`,
      }),
    ),
  },
  {
    description:
      'Models the runtime loads for the predictor and reloads when their folders change (Cortex model_path, ' +
      'models, multi_model_reloading). Exactly one of path, paths, dir. Required for type onnx.',
    'x-kubernetes-validations': [
      {
        rule: '[has(self.path), has(self.paths), has(self.dir)].filter(x, x).size() == 1',
        message: 'exactly one of path, paths and dir must be set',
      },
      {
        rule: '!has(self.cacheSize) || !has(self.path)',
        message: 'cacheSize needs several models: use dir or paths instead of path',
        fieldPath: '.cacheSize',
        reason: 'FieldValueInvalid',
      },
      {
        rule: '!has(self.diskCacheSize) || (has(self.cacheSize) && self.diskCacheSize >= self.cacheSize)',
        message: 'diskCacheSize needs cacheSize and must be at least cacheSize',
        fieldPath: '.diskCacheSize',
        reason: 'FieldValueInvalid',
      },
      {
        rule: "!has(self.reloadInterval) || duration(self.reloadInterval) >= duration('100ms')",
        message: 'reloadInterval must be at least 100ms',
        fieldPath: '.reloadInterval',
        reason: 'FieldValueInvalid',
      },
      uriRule('path'),
      uriRule('dir'),
    ],
  },
);

export type ModelsSpec = Static<typeof ModelsSchema>;

const MIN_RELOAD_INTERVAL_MS = 100;

/** A duration's milliseconds; Infinity when it does not parse (its pattern's issue says why). */
function safeDurationMs(text: string): number {
  try {
    return parseDurationMs(text);
  } catch {
    return Infinity;
  }
}

/** The rules PredictorSchema adds about models (with the predictor's other rules). */
export const PREDICTOR_MODEL_RULES = [
  {
    rule: "self.type != 'onnx' || has(self.models)",
    message: 'an onnx predictor needs models (path, paths or dir) for its onnx_client to run',
    fieldPath: '.models',
    reason: 'FieldValueRequired',
  },
  {
    rule: "self.type != 'typescript' || !has(self.models)",
    message: 'models are loaded by python and onnx predictors only; a typescript predictor loads its own',
    fieldPath: '.models',
    reason: 'FieldValueForbidden',
  },
];

/** The CLI's and the webhook's copy of the CEL rules above, with fixes (validate.ts calls it). */
export function checkModels(spec: unknown, ctx: IssueCollector): void {
  const at = ['predictor', 'models'];
  const type = valueAt(spec, ['predictor', 'type']);
  const models = valueAt(spec, at) as Partial<ModelsSpec> | undefined;
  const f = (field: string) => ctx.name([...at, field]);
  if (models === undefined) {
    if (type === 'onnx') {
      ctx.add({
        path: at,
        message: 'is required for an onnx predictor (its onnx_client runs these models)',
        fix:
          `add ${f('path')}: the .onnx file or its folder, relative to the project folder ` +
          `(or ${f('dir')} / ${f('paths')})`,
      });
    }
    return;
  }
  if (type === 'typescript') {
    ctx.add({
      path: at,
      message: 'is for python and onnx predictors; a typescript predictor loads its own models',
      fix: `remove ${ctx.name(at)} and load the model in the predictor's constructor`,
    });
  }
  const set = (['path', 'paths', 'dir'] as const).filter((k) => models[k] !== undefined);
  if (set.length !== 1) {
    ctx.add({
      path: at,
      message: set.length === 0 ? 'names no model' : `sets ${set.map(f).join(' and ')}: only one may be set`,
      fix:
        `keep exactly one of ${f('path')} (one model), ${f('paths')} (named models) ` +
        `and ${f('dir')} (a folder of models)`,
    });
  }
  if (models.cacheSize !== undefined && models.path !== undefined) {
    ctx.add({
      path: [...at, 'cacheSize'],
      message: `caches several models, but ${f('path')} is one`,
      fix: `remove ${f('cacheSize')}, or list the models with ${f('paths')} or ${f('dir')}`,
    });
  }
  if (models.diskCacheSize !== undefined) {
    if (models.cacheSize === undefined) {
      ctx.add({
        path: [...at, 'diskCacheSize'],
        message: `needs ${f('cacheSize')} (the models kept in memory)`,
        fix: `add ${f('cacheSize')} (at most ${models.diskCacheSize}) or remove ${f('diskCacheSize')}`,
      });
    } else if (models.diskCacheSize < models.cacheSize) {
      ctx.add({
        path: [...at, 'diskCacheSize'],
        message: `must be at least ${f('cacheSize')} (${models.cacheSize}); got ${models.diskCacheSize}`,
        fix: `raise ${f('diskCacheSize')} to ${models.cacheSize} or more`,
      });
    }
  }
  if (typeof models.reloadInterval === 'string' && safeDurationMs(models.reloadInterval) < MIN_RELOAD_INTERVAL_MS) {
    ctx.add({
      path: [...at, 'reloadInterval'],
      message: `must be at least 100ms (got ${models.reloadInterval}): each look walks every model folder`,
      fix: `set ${f('reloadInterval')} to 100ms or more, e.g. ${DEFAULT_RELOAD_INTERVAL}`,
    });
  }
  const sources: [string[], unknown][] = [
    [[...at, 'path'], models.path],
    [[...at, 'dir'], models.dir],
    ...(Array.isArray(models.paths)
      ? models.paths.map((m, i): [string[], unknown] => [[...at, 'paths', String(i), 'path'], m?.path])
      : []),
  ];
  for (const [path, value] of sources) {
    if (typeof value !== 'string' || !isUri(value)) continue;
    try {
      parseStorageUri(value);
    } catch (error) {
      if (!(error instanceof StorageUriError)) throw error;
      ctx.add({ path, message: error.message, fix: error.fix });
    }
  }
  if (Array.isArray(models.paths)) {
    const seen = new Set<string>();
    models.paths.forEach((m, i) => {
      const name = m?.name;
      if (typeof name !== 'string') return;
      if (seen.has(name)) {
        ctx.add({
          path: [...at, 'paths', String(i), 'name'],
          message: `model name "${name}" is used twice`,
          fix: 'give every model of paths its own name',
        });
      }
      seen.add(name);
    });
  }
}
