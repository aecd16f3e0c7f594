// RealtimeAPI v1alpha1: the single source of the spec's type, defaults, validation and CRD schema.

export { GROUP, VERSION, API_VERSION, KIND, PLURAL, SINGULAR, SHORT_NAMES } from './groupversion.ts';
export * from './realtimeapi-types.ts';
export * from './models-types.ts';
export * from './payload-logging-types.ts';
export * from './storage-uri.ts';
export * from './api-form.ts';
export { applyDefaults, canonicalEndpoint } from './defaults.ts';
export { validateSpec, validateApiName, type SpecIssue, type ValidateOptions } from './validate.ts';
export { parseDurationMs, DURATION_PATTERN } from './duration.ts';
export {
  parseQuantity,
  parseCpuMillis,
  parseMemBytes,
  parseIntOrPercent,
  quantitySuffix,
  QUANTITY_PATTERN,
  INT_OR_PERCENT_PATTERN,
  type IntOrPercent,
} from './quantity.ts';
export { fieldsOf, isDataMap, childSchema, schemaAt, isPlainObject, valueAt } from './schema-walk.ts';
export { ComputedDefault, hasDefault, isOptional } from './schema-helpers.ts';
export * from './realtimeapi-status.ts';
export type { RealtimeApi } from './realtimeapi.ts';
export * from './trafficsplitter-types.ts';
export { isGrpcApi } from './check-grpc.ts';
export * from './jobs-types.ts';
export { ASYNC_NEEDS_QUEUE, ASYNC_KIND, AsyncSchema, type AsyncSpec } from './async-types.ts';
