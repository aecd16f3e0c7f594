// TypeBox building blocks that stay valid as a Kubernetes structural schema: every node has a
// `type` (or is int-or-string / preserve-unknown-fields), and nothing uses $ref,
// patternProperties, additionalProperties: false, const or uniqueItems.

import {
  Type,
  OptionalKind,
  type ObjectOptions,
  type SchemaOptions,
  type TObject,
  type TProperties,
  type TSchema,
  type TUnsafe,
} from '@sinclair/typebox';
import { QUANTITY_PATTERN, INT_OR_PERCENT_PATTERN } from './quantity.ts';
import { DURATION_PATTERN } from './duration.ts';

/**
 * Marks a field whose default is computed from other fields (e.g. initReplicas = minReplicas):
 * it is optional on the wire but always present after applyDefaults. Symbol keys are invisible
 * to JSON, ajv and the CRD.
 */
export const ComputedDefault: unique symbol = Symbol.for('cortex.dev/computed-default');

/** Marks `schema` as having a default computed by applyDefaults. */
export function Computed<T extends TSchema>(schema: T): T {
  Object.defineProperty(schema, ComputedDefault, { value: true, enumerable: false });
  return schema;
}

/** Whether the field has a static `default` or a computed one. */
export function hasDefault(schema: TSchema): boolean {
  return 'default' in schema || ComputedDefault in schema;
}

/** Whether the field was declared with Type.Optional (may be absent even after defaulting). */
export function isOptional(schema: TSchema): boolean {
  return OptionalKind in schema;
}

/**
 * An object whose JSON `required` lists only the fields a user must write. Fields with a
 * default stay non-optional in the TypeScript type (they are always set after applyDefaults),
 * but are optional for ajv and in the CRD, so hand-written resources may omit them.
 */
export function Struct<P extends TProperties>(
  properties: P,
  options: ObjectOptions & { description: string },
): TObject<P> {
  const schema = Type.Object(properties, options);
  const required = Object.keys(properties).filter((k) => !isOptional(properties[k]) && !hasDefault(properties[k]));
  const wire = schema as { required?: string[] };
  if (required.length > 0) wire.required = required;
  else delete wire.required;
  return schema;
}

/** A string restricted to `values` (an `enum`, not a union of `const`s, which CRDs reject). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: SchemaOptions & { description: string },
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** A Kubernetes resource quantity: a whole number or a string like '200m' / '1Gi'. */
export function Quantity(options: SchemaOptions & { description: string }): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    ...options,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
  });
}

/** A whole number or a percentage string like '25%' (intstr.IntOrString). */
export function IntOrPercent(options: SchemaOptions & { description: string }): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    ...options,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: INT_OR_PERCENT_PATTERN,
    maxLength: 16, // bounded, since CEL rules read it
  });
}

/** A Go duration string like '100ms', '60s', '1h30m'. */
export function Duration(options: SchemaOptions & { description: string }) {
  return Type.String({ ...options, pattern: DURATION_PATTERN, maxLength: 64 }); // bounded, since CEL rules parse it
}

/** A free-form object kept as is (x-kubernetes-preserve-unknown-fields). */
export function FreeForm(options: SchemaOptions & { description: string }): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>({
    ...options,
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
  });
}

/** A map of strings to strings (additionalProperties with a schema, not patternProperties). */
export function StringMap(options: SchemaOptions & { description: string }): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({ ...options, type: 'object', additionalProperties: { type: 'string' } });
}
