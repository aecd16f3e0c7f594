// Checks of the values whose schema carries a pattern: quantities, durations, int-or-percent,
// the endpoint, and env names. A CRD pattern rejects them too, but cannot say what is wrong.

import type { TSchema } from '@sinclair/typebox';
import { DURATION_PATTERN, parseDurationMs } from './duration.ts';
import {
  INT_OR_PERCENT_PATTERN,
  QUANTITY_PATTERN,
  parseCpuMillis,
  parseMemBytes,
  parseQuantity,
  quantitySuffix,
} from './quantity.ts';
import { childSchema, fieldsOf, isDataMap, isPlainObject } from './schema-walk.ts';
import type { IssueCollector } from './issues.ts';
import { ENDPOINT_PATTERN, LIMITS, PROJECT_PATH_PATTERN } from './realtimeapi-types.ts';
import { SINK_URL_PATTERN } from './payload-logging-types.ts';

const ENDPOINT = /^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Patterns whose failures checkFormats explains; the schema's own pattern errors are dropped. */
export const EXPLAINED_PATTERNS: ReadonlySet<string> = new Set([
  QUANTITY_PATTERN,
  DURATION_PATTERN,
  INT_OR_PERCENT_PATTERN,
  ENDPOINT_PATTERN,
  PROJECT_PATH_PATTERN,
  SINK_URL_PATTERN,
]);
const PROJECT_PATH = new RegExp(PROJECT_PATH_PATTERN);

/** Checks of the values whose schema carries a pattern (quantities, durations, endpoint...). */
export function checkFormats(schema: TSchema, value: unknown, path: string[], ctx: IssueCollector): void {
  const fields = fieldsOf(schema);
  if (fields) {
    if (!isPlainObject(value)) return;
    for (const [key, child] of Object.entries(fields)) {
      if (value[key] !== undefined) checkFormats(child, value[key], [...path, key], ctx);
    }
    return;
  }
  if (schema.type === 'array') {
    // pod.containers[]: each container's quantities and env names
    if (Array.isArray(value))
      value.forEach((v, i) => checkFormats(childSchema(schema, i)!, v, [...path, String(i)], ctx));
    return;
  }
  if (isDataMap(schema)) {
    const envMap = path.join('.') === 'predictor.env' || /^pod\.containers\.[0-9]+\.env$/.test(path.join('.'));
    if (envMap && isPlainObject(value)) {
      for (const key of Object.keys(value)) {
        if (!ENV_NAME.test(key)) {
          ctx.add({
            path: [...path, key],
            message: `"${key}" is not a valid environment variable name`,
            fix: 'use letters, digits, "_", "-" and ".", not starting with a digit',
          });
        }
      }
    }
    return;
  }
  switch (schema.pattern) {
    case QUANTITY_PATTERN:
      return path[path.length - 1] === 'cpu' ? checkCpu(value, path, ctx) : checkMem(value, path, ctx);
    case DURATION_PATTERN:
      return checkDuration(value, path, ctx);
    case INT_OR_PERCENT_PATTERN:
      return checkIntOrPercent(value, path, ctx);
    case SINK_URL_PATTERN:
      if (typeof value === 'string' && !sinkUrl(value)) {
        ctx.add({
          path,
          message: `must be an http:// or https:// URL (got ${JSON.stringify(value)})`,
          fix: 'write the URL of the sink, e.g. http://event-display.default.svc/',
        });
      }
      return;
    case ENDPOINT_PATTERN:
      if (typeof value === 'string' && !ENDPOINT.test(value)) {
        ctx.add({
          path,
          message: `"${value}" is not a valid endpoint`,
          fix: 'use a URL path such as /iris-classifier (letters, digits, ".", "_", "~", "-" between slashes)',
        });
      } else if (typeof value === 'string' && value.split('/').some((s) => s === '.' || s === '..')) {
        // clients' URLs are normalised before routing: /../x is /x, so this path is never reached
        ctx.add({
          path,
          message: `"${value}" has a "." or ".." segment, which no request can reach`,
          fix: 'use a URL path without "." or ".." segments, such as /iris-classifier',
        });
      }
      return;
    case PROJECT_PATH_PATTERN:
      if (typeof value === 'string' && value !== '' && !PROJECT_PATH.test(value)) {
        const absolute = value.startsWith('/');
        ctx.add({
          path,
          message: absolute
            ? `${value} is an absolute path; only the project folder (the folder of cortex.yaml) is deployed`
            : `${value} goes outside the project folder (a ".." segment); only the project folder is deployed`,
          fix:
            'copy it into the project folder (the folder of cortex.yaml) and write its path relative to that ' +
            'folder, without ".."',
        });
      }
  }
}

function quantityNotNumber(value: unknown, path: string[], ctx: IssueCollector, examples: string): boolean {
  if (typeof value === 'number' && !Number.isInteger(value)) {
    ctx.add({
      path,
      message: `must be a whole number or a quantity string (got ${value})`,
      fix: `write it as a string: "${value}"`,
    });
    return true;
  }
  if (typeof value !== 'number' && typeof value !== 'string') {
    ctx.add({ path, message: `must be a quantity such as ${examples}`, fix: `write a quantity such as ${examples}` });
    return true;
  }
  return false;
}

function checkCpu(value: unknown, path: string[], ctx: IssueCollector): void {
  const examples = '200m, 0.5 or 2';
  if (quantityNotNumber(value, path, ctx, examples)) return;
  try {
    const millis = parseCpuMillis(value as string | number);
    if (millis > LIMITS.cpuCores * 1000) {
      ctx.add({
        path,
        message: `must be at most ${LIMITS.cpuCores} cores (got ${value})`,
        fix: `request what one replica uses, e.g. 2 or 500m (at most ${LIMITS.cpuCores})`,
      });
    }
  } catch {
    const negative = typeof value === 'number' ? value < 0 : String(value).trim().startsWith('-');
    ctx.add(
      negative
        ? { path, message: `must not be negative (got ${value})`, fix: `use a quantity such as ${examples}` }
        : {
            path,
            message: `must be a CPU quantity such as ${examples} (got ${JSON.stringify(value)})`,
            fix: `write the CPU as cores (0.5, 2) or millicores (500m)`,
          },
    );
  }
}

function checkMem(value: unknown, path: string[], ctx: IssueCollector): void {
  const examples = '200M, 512Mi or 2Gi';
  if (quantityNotNumber(value, path, ctx, examples)) return;
  try {
    if (parseMemBytes(value as string | number) > LIMITS.memBytes) {
      ctx.add({
        path,
        message: `must be at most ${LIMITS.memText} (got ${value})`,
        fix: `request what one replica uses, e.g. 512Mi or 2Gi (at most ${LIMITS.memText})`,
      });
      return;
    }
  } catch {
    const negative = typeof value === 'number' ? value < 0 : String(value).trim().startsWith('-');
    ctx.add(
      negative
        ? { path, message: `must not be negative (got ${value})`, fix: `use a quantity such as ${examples}` }
        : {
            path,
            message: `must be a memory quantity such as ${examples} (got ${JSON.stringify(value)})`,
            fix: `write the memory with a unit: M, G (powers of 1000) or Mi, Gi (powers of 1024)`,
          },
    );
    return;
  }
  if (typeof value === 'string' && quantitySuffix(value) === 'm') {
    const n = value.trim().slice(0, -1);
    ctx.add({
      path,
      message: `"${value}" means ${n} millibytes (${parseQuantity(value)} bytes)`,
      fix: `write ${n}M (megabytes) or ${n}Mi (mebibytes)`,
    });
  }
}

function checkDuration(value: unknown, path: string[], ctx: IssueCollector): void {
  if (typeof value !== 'string') return; // the schema's type check speaks for other types
  let ms: number;
  try {
    ms = parseDurationMs(value);
  } catch {
    ctx.add({
      path,
      message: `must be a duration such as 100ms, 10s, 5m or 1h30m (got ${JSON.stringify(value)})`,
      fix: 'write a number followed by a unit (ms, s, m, h)',
    });
    return;
  }
  const leaf = path[path.length - 1];
  if (leaf === 'window' && (ms < 10_000 || ms % 10_000 !== 0)) {
    const suggestion = Math.max(10, Math.round(ms / 10_000) * 10);
    ctx.add({ path, message: `must be a multiple of 10s (got ${value})`, fix: `use e.g. ${suggestion}s` });
  }
  if (leaf === 'batchInterval' && ms <= 0) {
    ctx.add({ path, message: 'must be greater than 0', fix: 'use e.g. 100ms' });
  }
}

function checkIntOrPercent(value: unknown, path: string[], ctx: IssueCollector): void {
  const ok =
    (typeof value === 'number' && Number.isInteger(value) && value >= 0) ||
    (typeof value === 'string' && /^[0-9]+%$/.test(value));
  if (!ok) {
    ctx.add({
      path,
      message: `must be a whole number ≥ 0 or a percentage such as 25% (got ${JSON.stringify(value)})`,
      fix: 'write e.g. 1 or 25%',
    });
    return;
  }
  if (path[path.length - 1] === 'maxUnavailable' && typeof value === 'string' && Number.parseInt(value, 10) > 100) {
    ctx.add({ path, message: `must be at most 100% (got ${value})`, fix: 'use a percentage up to 100%' });
  }
}

/** An http(s) URL with a host that Node's URL parser accepts. */
function sinkUrl(value: string): boolean {
  if (!new RegExp(SINK_URL_PATTERN).test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
