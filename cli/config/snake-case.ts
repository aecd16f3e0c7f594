// cortex.yaml speaks snake_case, the RealtimeAPI spec camelCase. The mapping is derived from the
// spec's schema: every declared field's name, converted; keys of data maps (config, env) are
// user data and are never renamed.

import type { TSchema } from '@sinclair/typebox';
import {
  RealtimeApiSpecSchema,
  childSchema,
  fieldsOf,
  isDataMap,
  isPlainObject,
} from '../../operator/api/v1alpha1/index.ts';

/** 'processesPerReplica' → 'processes_per_replica'. */
export function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const snakeToCamelCache = new WeakMap<TSchema, Map<string, string>>();

/** For a Struct node: its fields' snake_case names → camelCase names. */
export function snakeFields(schema: TSchema): Map<string, string> | undefined {
  const fields = fieldsOf(schema);
  if (!fields) return undefined;
  let map = snakeToCamelCache.get(schema);
  if (!map) {
    map = new Map(Object.keys(fields).map((camel) => [camelToSnake(camel), camel]));
    snakeToCamelCache.set(schema, map);
  }
  return map;
}

function buildTable(schema: TSchema, snake: string, camel: string, out: Map<string, string>): Map<string, string> {
  const map = snakeFields(schema);
  if (!map) return out;
  for (const [s, c] of map) {
    const sp = snake ? `${snake}.${s}` : s;
    const cp = camel ? `${camel}.${c}` : c;
    out.set(sp, cp);
    buildTable(childSchema(schema, c)!, sp, cp, out);
  }
  return out;
}

/** Every field of the spec: 'autoscaling.min_replicas' → 'autoscaling.minReplicas'. */
export const FIELD_TABLE: ReadonlyMap<string, string> = buildTable(RealtimeApiSpecSchema, '', '', new Map());

/** A spec path in cortex.yaml's names: ['autoscaling','minReplicas'] → ['autoscaling','min_replicas']. */
export function toSnakePath(camelPath: readonly string[]): string[] {
  let schema: TSchema | undefined = RealtimeApiSpecSchema;
  return camelPath.map((seg) => {
    const isField = !!fieldsOf(schema);
    schema = childSchema(schema, seg);
    return isField ? camelToSnake(seg) : seg;
  });
}

/**
 * Converts a snake_case value into the camelCase shape of `schema`. Keys that are not fields
 * are left out and passed to `onUnknown` with the names allowed there; null fields are left
 * out (YAML's `key:` with nothing after it means "not set"); scalars in string maps (env)
 * become strings. Data maps are copied as they are.
 */
export function fromSnakeCase(
  value: unknown,
  schema: TSchema,
  path: string[],
  onUnknown: (path: string[], known: string[]) => void,
): unknown {
  const map = snakeFields(schema);
  if (map) {
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const camel = map.get(key);
      if (camel === undefined) {
        onUnknown([...path, key], [...map.keys()]);
        continue;
      }
      if (child === null) continue;
      out[camel] = fromSnakeCase(child, childSchema(schema, camel)!, [...path, key], onUnknown);
    }
    return out;
  }
  if (schema.type === 'array' && Array.isArray(value)) {
    return value.map((item, i) => fromSnakeCase(item, childSchema(schema, i)!, [...path, String(i)], onUnknown));
  }
  if (isDataMap(schema) && isPlainObject(value)) {
    const valueType = (schema.additionalProperties as TSchema | undefined)?.type;
    if (valueType !== 'string') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'boolean' ? String(v) : v]),
    );
  }
  return value;
}
