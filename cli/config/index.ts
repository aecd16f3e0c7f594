// Loading cortex.yaml into RealtimeAPI specs.

export { loadProject, findConfigFile, CONFIG_FILE_NAMES, type LoadedApi, type LoadedProject } from './load.ts';
export {
  ConfigError,
  explainConfigError,
  formatIssue,
  displayPath,
  type ConfigIssue,
  type ConfigWarning,
} from './errors.ts';
export { toSnakePath, camelToSnake, FIELD_TABLE } from './snake-case.ts';
export { suggest, levenshtein } from './suggest.ts';
