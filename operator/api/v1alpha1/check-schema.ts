// The schema's own checks (ajv), in words a person can act on, and fields the schema does not
// know (a CRD prunes them silently; here they are reported).

import { Ajv, type ErrorObject } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { RealtimeApiSpecSchema } from './realtimeapi-types.ts';
import { childSchema, fieldsOf, isPlainObject, schemaAt } from './schema-walk.ts';
import { EXPLAINED_PATTERNS } from './check-formats.ts';
import type { IssueCollector, SpecIssue } from './issues.ts';

const ajv = new Ajv({ allErrors: true, verbose: true, strictTypes: false, strictTuples: false });
ajv.addKeyword('x-kubernetes-int-or-string');
ajv.addKeyword('x-kubernetes-preserve-unknown-fields');
ajv.addKeyword('x-kubernetes-validations'); // CEL rules: the API server runs them; validateSpec checks the same in code
// list-maps keyed by name (pod.containers, models.paths): check-pod.ts and checkModels check the names
ajv.addKeyword('x-kubernetes-list-type');
ajv.addKeyword('x-kubernetes-list-map-keys');
const validate = ajv.compile(RealtimeApiSpecSchema);

const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  object: 'a mapping',
  array: 'a list',
  boolean: 'true or false',
};

/** The schema's findings, at most one per path; none for int-or-string nodes and explained patterns. */
export function schemaIssues(spec: unknown, ctx: IssueCollector): SpecIssue[] {
  if (validate(spec)) return [];
  const seen = new Set<string>();
  const out: SpecIssue[] = [];
  for (const e of validate.errors ?? []) {
    const issue = fromAjv(e, ctx);
    if (!issue) continue;
    const key = issue.path.join('\0');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

export function unknownFields(schema: TSchema, value: unknown, path: string[], ctx: IssueCollector): void {
  const fields = fieldsOf(schema);
  if (schema.type === 'array' && Array.isArray(value)) {
    // pod.containers[]: each item's fields
    value.forEach((item, i) => unknownFields(childSchema(schema, i)!, item, [...path, String(i)], ctx));
    return;
  }
  if (!fields || !isPlainObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (Object.hasOwn(fields, key)) {
      unknownFields(fields[key], child, [...path, key], ctx);
      continue;
    }
    const allowed = Object.keys(fields).map((f) => ctx.name([...path, f], [...path, key]));
    ctx.add({
      path: [...path, key],
      message: 'unknown field',
      allowed,
      fix: `remove it; known fields here: ${allowed.join(', ')}`,
    });
  }
}

function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function fromAjv(e: ErrorObject, ctx: IssueCollector): SpecIssue | undefined {
  const path = pointerToPath(e.instancePath);
  const parent = (e.parentSchema ?? {}) as TSchema;
  // int-or-string: checked in formats()
  if (e.schemaPath.includes('/anyOf/') || e.keyword === 'anyOf') return undefined;
  switch (e.keyword) {
    case 'required': {
      const missing = [...path, String((e.params as { missingProperty: string }).missingProperty)];
      const desc = schemaAt(RealtimeApiSpecSchema, missing)?.description;
      return {
        path: missing,
        message: 'is required',
        fix: `add ${ctx.name(missing)}${desc ? ` (${lowerFirst(desc)})` : ''}`,
      };
    }
    case 'type': {
      const t = String((e.params as { type: string }).type);
      const words = TYPE_WORDS[t] ?? t;
      const bound = typeof parent.minimum === 'number' ? ` ≥ ${parent.minimum}` : '';
      const example =
        parent.default !== undefined && typeof parent.default !== 'object' ? `, e.g. ${String(parent.default)}` : '';
      return { path, message: `must be ${words}${bound} (got ${describe(e.data)})`, fix: `write ${words}${example}` };
    }
    case 'enum': {
      const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
      return {
        path,
        message: `must be one of: ${allowed.join(', ')} (got ${describe(e.data)})`,
        allowed,
        fix: `use one of: ${allowed.join(', ')}`,
      };
    }
    case 'minimum':
    case 'maximum': {
      const { limit } = e.params as { comparison: string; limit: number };
      const comparison = e.keyword === 'minimum' ? '≥' : '≤';
      return {
        path,
        message: `must be ${comparison} ${limit} (got ${String(e.data)})`,
        fix: `use a value ${comparison} ${limit}`,
      };
    }
    case 'minLength':
      return { path, message: 'must not be empty', fix: `give ${ctx.name(path)} a value or leave it out` };
    case 'pattern':
      if (EXPLAINED_PATTERNS.has(String((e.params as { pattern: string }).pattern))) return undefined;
      return {
        path,
        message: `must match ${String((e.params as { pattern: string }).pattern)}`,
        fix: 'correct the value',
      };
    default:
      return { path, message: e.message ?? 'is invalid', fix: 'correct the value' };
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}
