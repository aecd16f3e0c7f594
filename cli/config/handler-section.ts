// Cortex 0.34-0.35's names for the predictor section (handler:) and the project's .env file, as
// the loader (load.ts) reads them.

import fs from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from './errors.ts';
import { parseDotEnv } from './dotenv.ts';

export type Section = 'predictor' | 'handler';

/**
 * The API with its handler section read as the predictor section (same fields). `conflict`:
 * both were written (the handler section is then dropped and reported by the caller).
 */
export function handlerAsPredictor(raw: Record<string, unknown>): {
  api: Record<string, unknown>;
  section: Section;
  conflict: boolean;
} {
  if (!Object.hasOwn(raw, 'handler')) return { api: raw, section: 'predictor', conflict: false };
  const { handler, ...rest } = raw;
  if (Object.hasOwn(raw, 'predictor')) return { api: rest, section: 'predictor', conflict: true };
  return { api: { ...rest, predictor: handler }, section: 'handler', conflict: false };
}

export const BOTH_SECTIONS = {
  message: 'both handler and predictor are set; they are the same section (Cortex 0.34 renamed predictor to handler)',
  fix: 'keep one of them: remove handler, or move its fields into predictor and remove predictor',
};

export const MISSING_PREDICTOR_FIX =
  'add a predictor section (Cortex 0.34-0.35 called it handler) with type and path, ' +
  'e.g. "predictor:" then "type: python" and "path: predictor.py" indented under it';

/** In an API that wrote handler:, a problem under predictor is named (and located) under handler. */
export function asWritten<F extends string | undefined>(
  section: Section,
  field: string[],
  message: string,
  fix: F,
): [string[], string, F] {
  if (section !== 'handler' || field[0] !== 'predictor') return [field, message, fix];
  const rename = (text: string) => text.replace(/\bpredictor\./g, 'handler.');
  return [['handler', ...field.slice(1)], rename(message), (fix === undefined ? fix : rename(fix)) as F];
}

/** <dir>/.env's variables (undefined: no such file) and its lines that are not VARIABLE=value, as issues. */
export function readDotEnv(dir: string): { vars: Record<string, string> | undefined; issues: ConfigIssue[] } {
  const file = path.join(dir, '.env');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { vars: undefined, issues: [] };
  }
  const { vars, problems } = parseDotEnv(text);
  const issues = problems.map((p) => ({
    file,
    line: p.line,
    column: 1,
    api: undefined,
    field: '',
    message: p.message,
    fix: p.fix,
  }));
  return { vars, issues };
}
