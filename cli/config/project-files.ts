// The files a cortex.yaml names, checked on disk relative to the project folder.

import fs from 'node:fs';
import path from 'node:path';
import { isPlainObject, valueAt, type RealtimeApiSpec } from '../../operator/api/v1alpha1/index.ts';
import { CONDA_FORMER_DEFAULT } from '../../operator/api/v1alpha1/validate.ts';

/** File extensions of a predictor, by predictor.type. */
export const PREDICTOR_EXTENSIONS: Record<string, string[]> = {
  python: ['.py'],
  onnx: ['.py'],
  typescript: ['.ts', '.mts', '.js', '.mjs'],
};

type Report = (field: string[], message: string, fix: string) => void;

function statOf(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/**
 * The files an API names must exist inside the project folder `dir`: predictor.path (a file
 * of its language), predictor.python_path (a folder), and dependency files the user wrote
 * (the default ones are optional); a conda-packages.txt is refused. `written` is the API as written in cortex.yaml;
 * fields for which `reported` is true already have an issue (e.g. a path outside the project) and are skipped.
 */
export function checkProjectFiles(
  dir: string,
  spec: RealtimeApiSpec,
  written: Record<string, unknown>,
  report: Report,
  reported: (field: string[]) => boolean = () => false,
): void {
  const predictor = spec.predictor;
  if (!isPlainObject(predictor)) return;
  const inside = (p: string) => {
    const rel = path.relative(dir, path.resolve(dir, p));
    return !path.isAbsolute(p) && rel !== '' && !rel.startsWith('..');
  };
  if (typeof predictor.path === 'string') {
    const abs = path.resolve(dir, predictor.path);
    const field = ['predictor', 'path'];
    const stat = statOf(abs);
    if (!inside(predictor.path)) {
      report(
        field,
        `${predictor.path} is outside the project folder ${dir}`,
        'move the predictor into the folder of cortex.yaml (that folder is what gets deployed) ' +
          'and give its path relative to it',
      );
    } else if (!stat) {
      report(
        field,
        `file not found: ${abs}`,
        `create it, or correct predictor.path (it is relative to the folder of cortex.yaml, ${dir})`,
      );
    } else if (stat.isDirectory()) {
      report(
        field,
        `${abs} is a folder, not a file`,
        'point predictor.path at the file that defines the predictor class',
      );
    } else {
      const extensions = Object.hasOwn(PREDICTOR_EXTENSIONS, predictor.type)
        ? PREDICTOR_EXTENSIONS[predictor.type]
        : [];
      if (extensions.length > 0 && !extensions.includes(path.extname(abs))) {
        report(
          field,
          `a ${predictor.type} predictor must be a ${extensions.join(' or ')} file (got ${predictor.path})`,
          `point predictor.path at the ${extensions[0]} file, or set predictor.type to match the file`,
        );
      }
    }
  }
  if (typeof predictor.pythonPath === 'string' && !reported(['predictor', 'python_path'])) {
    const abs = path.resolve(dir, predictor.pythonPath);
    if (!statOf(abs)?.isDirectory()) {
      report(
        ['predictor', 'python_path'],
        `folder not found: ${abs}`,
        `create it, or correct predictor.python_path (it is relative to the folder of cortex.yaml, ${dir})`,
      );
    }
  }
  const deps = valueAt(written, ['predictor', 'dependencies']);
  if (isPlainObject(deps) && isPlainObject(predictor.dependencies)) {
    for (const key of ['pip', 'shell'] as const) {
      const file = predictor.dependencies[key];
      if (typeof deps[key] !== 'string' || typeof file !== 'string') continue; // defaults are optional files
      if (reported(['predictor', 'dependencies', key])) continue; // e.g. outside the project
      if (!statOf(path.resolve(dir, file))?.isFile()) {
        report(
          ['predictor', 'dependencies', key],
          `file not found: ${path.resolve(dir, file)}`,
          `create it, or remove predictor.dependencies.${key} (it is relative to the folder of cortex.yaml)`,
        );
      }
    }
  }
  // Other values of dependencies.conda are refused by validateSpec; here the default file and
  // the former default written out, which it accepts for stored objects.
  const conda = isPlainObject(predictor.dependencies) ? predictor.dependencies.conda : undefined;
  if ((conda === undefined || conda === CONDA_FORMER_DEFAULT) && !reported(['predictor', 'dependencies', 'conda'])) {
    const written = isPlainObject(deps) && typeof deps.conda === 'string';
    const present = statOf(path.join(dir, CONDA_FORMER_DEFAULT))?.isFile() === true;
    if (written || present) {
      report(
        ['predictor', 'dependencies', 'conda'],
        `conda is not supported (${present ? `found ${path.join(dir, CONDA_FORMER_DEFAULT)}` : 'it is not installed'})`,
        'list pip packages in requirements.txt (predictor.dependencies.pip) or install them in dependencies.sh ' +
          `(predictor.dependencies.shell)${present ? `, and remove ${CONDA_FORMER_DEFAULT}` : ''}` +
          `${written ? ', and remove predictor.dependencies.conda' : ''}`,
      );
    }
  }
}
