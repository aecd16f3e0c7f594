// Problems found in a cortex.yaml, located by file, line and column.

import path from 'node:path';

/** One problem that stops the file from loading. */
export interface ConfigIssue {
  /** Absolute path of the config file. */
  file: string;
  /** 1-based; 0 when the problem is not at a place in the file (e.g. the file is missing). */
  line: number;
  column: number;
  /** Name of the API concerned; undefined when it has none or the problem is file-wide. */
  api: string | undefined;
  /** Field as the user wrote it, snake_case: "autoscaling.min_replicas"; '' when file-wide. */
  field: string;
  message: string;
  /** What to change. */
  fix: string;
}

/**
 * Something loaded but deserving attention (ignored or deprecated settings): located like an
 * issue, the fix optional.
 */
export type ConfigWarning = Omit<ConfigIssue, 'fix'> & { fix?: string };

/** The file as shown to a person: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** `cortex.yaml:12:5: api "iris": autoscaling.min_replicas: must be ≤ max_replicas (5); fix: ...` */
export function formatIssue(issue: ConfigIssue | ConfigWarning): string {
  const where = issue.line > 0 ? `${displayPath(issue.file)}:${issue.line}:${issue.column}` : displayPath(issue.file);
  const parts = [where];
  if (issue.api !== undefined) parts.push(`api "${issue.api}"`);
  if (issue.field) parts.push(issue.field);
  parts.push(issue.fix ? `${issue.message}; fix: ${issue.fix}` : issue.message);
  return parts.join(': ');
}

/** Orders issues as they appear in the file. */
export function byPosition<T extends ConfigIssue | ConfigWarning>(a: T, b: T): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
}

/** Thrown by loadProject with every problem found (not only the first). */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  /** Warnings found along the way, for display next to the errors. */
  readonly warnings: ConfigWarning[];

  constructor(issues: ConfigIssue[], warnings: ConfigWarning[] = []) {
    const sorted = [...issues].sort(byPosition);
    super(sorted.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = sorted;
    this.warnings = warnings;
  }
}

/**
 * A ConfigError as the CLI prints it: every issue, then the warnings found along the way, each
 * with its file, line, API and field (a warning can explain an error: an ignored field).
 */
export function explainConfigError(error: ConfigError): string {
  return [...error.issues.map(formatIssue), ...error.warnings.map((w) => `warning: ${formatIssue(w)}`)].join('\n');
}
