// The issues validation reports, and the collector the checks share.

/** One problem with a spec. */
export interface SpecIssue {
  /** Path of the field in the spec (camelCase; map keys and list indexes as written). */
  path: string[];
  message: string;
  /** The values or field names that would be accepted, when there is such a list. */
  allowed?: string[];
  /** What to change. */
  fix?: string;
}

export interface ValidateOptions {
  /** Renames a spec path for messages, e.g. to cortex.yaml's snake_case. Default: as is. */
  rename?: (path: string[]) => string[];
}

/** Collects issues and names fields in the caller's naming. */
export class IssueCollector {
  issues: SpecIssue[] = [];
  rename: (path: string[]) => string[];
  constructor(rename: (path: string[]) => string[]) {
    this.rename = rename;
  }
  add(issue: SpecIssue): void {
    this.issues.push(issue);
  }
  /** A field's name as seen from `from`: its last segment when they share a parent, else the full path. */
  name(path: string[], from?: string[]): string {
    const renamed = this.rename(path);
    if (from && from.length === path.length && from.slice(0, -1).join('.') === path.slice(0, -1).join('.'))
      return renamed[renamed.length - 1];
    return renamed.join('.');
  }
}
