// The checks of cortex.yaml across its entries: names and endpoints used twice, and what a
// TrafficSplitter may name. Each problem goes to the loader (load.ts), which locates it.
import { isPlainObject, type KIND, type JobApiKind, type RealtimeApiSpec } from '../../operator/api/v1alpha1/index.ts';
import type { LoadedSplitter } from './splitter-section.ts';
import type { YamlSource } from './yaml-source.ts';

/** Where the checks report: the loader, which locates each field in the file. */
export interface IssueSink {
  readonly src: YamlSource;
  issue(
    api: string | undefined,
    base: (string | number)[],
    field: string[],
    message: string,
    fix: string,
    part?: 'key' | 'value',
  ): void;
  warn(api: string | undefined, base: (string | number)[], field: string[], message: string, fix?: string): void;
}

/** One API of the file, with what the checks across APIs need even when it has problems. */
export interface ApiEntry {
  name: string | undefined;
  kind: typeof KIND | JobApiKind;
  spec: RealtimeApiSpec;
  line: number;
  base: (string | number)[];
}

/** A TrafficSplitter of the file, with where it is. */
export type SplitterEntry = LoadedSplitter & { base: (string | number)[] };

/** Splitter names and endpoints no API of the file has; a splitter never splits to a splitter. */
export function checkSplitters(sink: IssueSink, entries: ApiEntry[], splitters: SplitterEntry[]): void {
  const apis = new Map(entries.filter((e) => e.name !== undefined).map((e) => [e.name!, e]));
  const endpoints = new Map<string, string>();
  for (const e of entries)
    if (e.name && typeof e.spec?.networking?.endpoint === 'string') endpoints.set(e.spec.networking.endpoint, e.name);
  const names = new Set<string>();
  for (const s of splitters) {
    if (apis.has(s.name) || names.has(s.name))
      sink.issue(
        s.name,
        s.base,
        ['name'],
        `duplicate name "${s.name}" (an API or splitter of this file has it)`,
        'give the splitter a name of its own',
      );
    names.add(s.name);
    const taken = endpoints.get(s.spec.networking.endpoint);
    if (taken !== undefined)
      sink.issue(
        s.name,
        s.base,
        ['networking', 'endpoint'],
        `endpoint ${s.spec.networking.endpoint} is already used by "${taken}"`,
        'set networking.endpoint to a path no API or other splitter uses (default: /<name>)',
      );
    endpoints.set(s.spec.networking.endpoint, s.name);
    s.spec.apis.forEach((a, i) => {
      if (splitters.some((o) => o.name === a.name))
        sink.issue(
          s.name,
          s.base,
          ['apis', String(i), 'name'],
          `${a.name} is a TrafficSplitter`,
          'name RealtimeAPIs only',
        );
    });
  }
}

export function checkAcrossApis(sink: IssueSink, entries: ApiEntry[]): void {
  const nameLine = (e: ApiEntry) => sink.src.locate([...e.base, 'name']).line;
  const byName = groupBy(
    entries.filter((e) => e.name !== undefined),
    (e) => e.name!,
  );
  for (const [apiName, group] of byName) {
    if (group.length < 2) continue;
    for (const e of group) {
      const others = group.filter((o) => o !== e).map(nameLine);
      sink.issue(
        apiName,
        e.base,
        ['name'],
        `duplicate API name "${apiName}" (also at line${others.length > 1 ? 's' : ''} ${others.join(', ')})`,
        'give each API a different name',
      );
    }
  }
  const unique = entries.filter(
    (e) =>
      e.name !== undefined &&
      byName.get(e.name)!.length === 1 &&
      isPlainObject(e.spec?.networking) &&
      typeof e.spec.networking.endpoint === 'string',
  );
  for (const [endpoint, group] of groupBy(unique, (e) => e.spec.networking.endpoint)) {
    for (const e of group.slice(1)) {
      const first = group[0];
      sink.issue(
        e.name,
        e.base,
        ['networking', 'endpoint'],
        `endpoint ${endpoint} is already used by api "${first.name}" (line ${first.line})`,
        'set networking.endpoint to a path no other API uses',
      );
    }
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
