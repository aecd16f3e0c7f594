// Walking the spec's schema alongside a value: which keys are fields, which are data.

import type { TSchema } from '@sinclair/typebox';

/** The declared fields of an object node (a Struct); undefined for maps, free-form objects and scalars. */
export function fieldsOf(schema: TSchema | undefined): Record<string, TSchema> | undefined {
  if (!schema || schema.type !== 'object' || !schema.properties) return undefined;
  return schema.properties as Record<string, TSchema>;
}

/** Whether the keys of this node are user data (free-form config, env maps), not field names. */
export function isDataMap(schema: TSchema | undefined): boolean {
  return !!schema && schema.type === 'object' && !schema.properties;
}

/** The schema of `schema`'s child `key`: a field, a map value or a list item. */
export function childSchema(schema: TSchema | undefined, key: string | number): TSchema | undefined {
  if (!schema) return undefined;
  const fields = fieldsOf(schema);
  if (fields) return typeof key === 'string' && Object.hasOwn(fields, key) ? fields[key] : undefined;
  if (schema.type === 'array') return schema.items as TSchema | undefined;
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object')
    return schema.additionalProperties as TSchema;
  return undefined;
}

/** The schema at `path` below `root`, or undefined when the path leaves the schema. */
export function schemaAt(root: TSchema, path: readonly (string | number)[]): TSchema | undefined {
  let s: TSchema | undefined = root;
  for (const seg of path) s = childSchema(s, seg);
  return s;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `path` inside nested objects, or undefined where the path leaves them. */
export function valueAt(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const seg of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}
