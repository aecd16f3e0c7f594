// Cortex 0.20–0.25's ways of naming a predictor's models, read as predictor.models (the spec's one
// field, operator/api/v1alpha1/models-types.ts), and the check that model paths exist:
//   0.20–0.24  model_path: <path>                     → models.path
//   0.20       models: [{name, model_path, ...}]      → models.paths: [{name, path}]
//   0.21–0.24  models: {path | paths | dir, cache_size, disk_cache_size}  (as is)
//   0.25       multi_model_reloading: {...} (python)  → models
// signature_key (a TensorFlow SavedModel's signature def) means nothing to onnx or python models.

import fs from 'node:fs';
import path from 'node:path';
import { isPlainObject, isUri, type RealtimeApiSpec } from '../../operator/api/v1alpha1/index.ts';

export interface ModelsRewrite {
  /** The predictor section with its models in the spec's shape. */
  predictor: Record<string, unknown>;
  /** Spec path (snake_case, dotted) → the field as written, for issues found at the spec path. */
  aliases: Map<string, string[]>;
  issues: { field: string[]; message: string; fix: string }[];
  warnings: { field: string[]; message: string; fix: string }[];
}

const TENSORFLOW_MODEL_FIELDS = ['models', 'model_path', 'multi_model_reloading', 'signature_key'];

const SIGNATURE_KEY = {
  message: 'ignored: signature_key selects a signature of a TensorFlow SavedModel; onnx and python models have none',
  fix: 'remove signature_key',
};

/** The predictor section of one API (snake_case, as written) with its models read as predictor.models. */
export function modelsAsSpec(written: Record<string, unknown>): ModelsRewrite {
  const out: ModelsRewrite = { predictor: { ...written }, aliases: new Map(), issues: [], warnings: [] };
  const p = out.predictor;
  const from = (field: string) => ['predictor', field];
  let modelsField = 'models'; // the field as written that p.models came from
  const take = (field: string, to: string[]) => {
    if (!Object.hasOwn(p, field) || p[field] === null) return undefined;
    const value = p[field];
    delete p[field];
    if (p.models !== undefined && p.models !== null) {
      out.issues.push({
        field: from(field),
        message: `both ${field} and ${modelsField} are set; they name the same models`,
        fix: `keep one of them: remove ${field}, or move its models into ${modelsField} and remove it`,
      });
      return undefined;
    }
    out.aliases.set(['predictor', ...to].join('.'), from(field));
    modelsField = field;
    return value;
  };
  if (p.type === 'tensorflow') {
    // refused as a whole (compat.ts): its model fields would only add noise to that one error
    for (const field of TENSORFLOW_MODEL_FIELDS) delete p[field];
    return out;
  }
  const reloading = take('multi_model_reloading', ['models']);
  if (reloading !== undefined) p.models = reloading;
  const modelPath = take('model_path', ['models', 'path']);
  if (modelPath !== undefined) p.models = { path: modelPath };
  if (Object.hasOwn(p, 'signature_key')) {
    delete p.signature_key;
    out.warnings.push({ field: from('signature_key'), ...SIGNATURE_KEY });
  }
  if (Array.isArray(p.models)) {
    // Cortex 0.20's list of {name, model_path, signature_key}
    out.aliases.set('predictor.models.paths', from('models'));
    p.models = {
      paths: p.models.map((m, i) => {
        if (!isPlainObject(m)) return m;
        const { model_path: modelPathOf, signature_key: key, ...rest } = m;
        if (key !== undefined)
          out.warnings.push({ field: ['predictor', 'models', String(i), 'signature_key'], ...SIGNATURE_KEY });
        out.aliases.set(`predictor.models.paths.${i}.path`, ['predictor', 'models', String(i), 'model_path']);
        return modelPathOf === undefined ? rest : { ...rest, path: modelPathOf };
      }),
    };
  } else if (isPlainObject(p.models)) {
    const models: Record<string, unknown> = { ...p.models };
    if (Object.hasOwn(models, 'signature_key')) {
      delete models.signature_key;
      out.warnings.push({ field: ['predictor', 'models', 'signature_key'], ...SIGNATURE_KEY });
    }
    if (Array.isArray(models.paths)) {
      models.paths = models.paths.map((m, i) => {
        if (!isPlainObject(m) || !Object.hasOwn(m, 'signature_key')) return m;
        const { signature_key: _key, ...rest } = m;
        out.warnings.push({ field: ['predictor', 'models', 'paths', String(i), 'signature_key'], ...SIGNATURE_KEY });
        return rest;
      });
    }
    p.models = models;
  }
  return out;
}

type Report = (field: string[], message: string, fix: string) => void;

/**
 * The local model paths of predictor.models must exist. Relative ones start at the project folder
 * and must stay inside it (they travel with it to the replicas); absolute ones are read as they are
 * where the replicas run (this machine for the local environment).
 */
export function checkModelFiles(dir: string, spec: RealtimeApiSpec, report: Report): void {
  const models = spec.predictor?.models;
  if (!isPlainObject(models)) return;
  const at = ['predictor', 'models'];
  const sources: [string[], unknown, 'model' | 'folder'][] = [
    [[...at, 'path'], models.path, 'model'],
    [[...at, 'dir'], models.dir, 'folder'],
    ...(Array.isArray(models.paths)
      ? models.paths.map((m, i): [string[], unknown, 'model'] => [
          [...at, 'paths', String(i), 'path'],
          m?.path,
          'model',
        ])
      : []),
  ];
  for (const [field, source, kind] of sources) {
    if (typeof source !== 'string' || isUri(source)) continue; // validation said so
    const abs = path.resolve(dir, source);
    const rel = path.relative(dir, abs);
    if (!path.isAbsolute(source) && (rel === '..' || rel.startsWith(`..${path.sep}`))) {
      report(
        field,
        `${source} is outside the project folder ${dir}, so it is not deployed with it`,
        'move the model into the project folder and give its path relative to cortex.yaml, or give an absolute path',
      );
      continue;
    }
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(abs);
    } catch {
      stat = undefined;
    }
    if (!stat) {
      report(field, `not found: ${abs}`, `create it, or correct the path (relative paths start at ${dir})`);
    } else if (kind === 'folder' && !stat.isDirectory()) {
      report(field, `${abs} is a file; models.dir is a folder of models`, 'use models.path for one model file');
    }
  }
}
