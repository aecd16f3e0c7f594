// The local environment's TrafficSplitters, kept by the supervisor: which endpoint each serves
// and its split (the gateway applies it: cli/local/splitter.ts). A splitter is refused when it
// names an API the environment does not have, or when its endpoint is another API's or
// splitter's; nothing about it changes then.
import { Value } from '@sinclair/typebox/value';
import {
  TrafficSplitterSpecSchema,
  type TrafficSplitterSpec,
  validateSplitter,
} from '../../operator/api/v1alpha1/index.ts';
import { stripEndpoint } from './gateway.ts';
import type { Split } from './splitter.ts';

export interface SplitterRecord {
  name: string;
  spec: TrafficSplitterSpec;
  createdAt: string;
}

/** What `cortex get` and `cortex deploy` see of a splitter. */
export interface SplitterStatus {
  name: string;
  endpoint: string;
  apis: TrafficSplitterSpec['apis'];
  createdAt: string;
}

export interface SplitterRequest {
  name: string;
  spec: TrafficSplitterSpec;
}

export function splitOf(spec: TrafficSplitterSpec): Split {
  const shadow = spec.apis.find((a) => a.shadow)?.name;
  return {
    backends: spec.apis.filter((a) => !a.shadow).map((a) => ({ api: a.name, weight: a.weight })),
    ...(shadow ? { shadow } : {}),
  };
}

export class LocalSplitters {
  readonly records: Map<string, SplitterRecord>;

  constructor(initial: Record<string, SplitterRecord> = {}) {
    this.records = new Map(Object.entries(initial));
  }

  /** Creates or updates a splitter; an error message (nothing changed) when it cannot be. */
  apply(
    request: SplitterRequest,
    apis: { name: string; endpoint: string }[],
  ): { action: 'created' | 'updated' | 'up-to-date' } | { error: string } {
    const { name, spec } = request;
    if (typeof name !== 'string' || !Value.Check(TrafficSplitterSpecSchema, spec))
      return { error: 'a splitter request is {name, spec} with a TrafficSplitter spec' };
    const issues = validateSplitter(spec);
    if (issues.length > 0)
      return { error: issues.map((i) => `${i.path.join('.')}: ${i.message}; ${i.fix}`).join('\n') };
    if (apis.some((a) => a.name === name)) return { error: `${name} is an API: give the splitter another name` };
    const missing = spec.apis.filter((a) => !apis.some((x) => x.name === a.name)).map((a) => a.name);
    if (missing.length > 0)
      return {
        error: `no API ${missing.join(', ')} in the local environment: deploy it first, or remove it from ${name}`,
      };
    const endpoint = spec.networking.endpoint;
    const api = apis.find((a) => a.endpoint === endpoint);
    const other = [...this.records.values()].find((s) => s.name !== name && s.spec.networking.endpoint === endpoint);
    const holder = api ? `API ${api.name}` : other ? `TrafficSplitter ${other.name}` : undefined;
    if (holder)
      return { error: `endpoint ${endpoint} is already used by ${holder}; set networking.endpoint to another path` };
    const before = this.records.get(name);
    if (before && JSON.stringify(before.spec) === JSON.stringify(spec)) return { action: 'up-to-date' };
    this.records.set(name, { name, spec, createdAt: before?.createdAt ?? new Date().toISOString() });
    return { action: before ? 'updated' : 'created' };
  }

  delete(name: string): boolean {
    return this.records.delete(name);
  }

  /** The splitter serving `pathname` (longest endpoint), if any. */
  match(pathname: string): { api: string; endpoint: string; split: Split } | undefined {
    let best: SplitterRecord | undefined;
    for (const s of this.records.values()) {
      const e = s.spec.networking.endpoint;
      if (stripEndpoint(e, pathname) !== undefined && (!best || e.length > best.spec.networking.endpoint.length))
        best = s;
    }
    return best && { api: best.name, endpoint: best.spec.networking.endpoint, split: splitOf(best.spec) };
  }

  endpoints(): { api: string; endpoint: string }[] {
    return [...this.records.values()].map((s) => ({ api: s.name, endpoint: s.spec.networking.endpoint }));
  }

  status(): SplitterStatus[] {
    return [...this.records.values()]
      .map((s) => ({ name: s.name, endpoint: s.spec.networking.endpoint, apis: s.spec.apis, createdAt: s.createdAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  toState(): Record<string, SplitterRecord> {
    return Object.fromEntries(this.records);
  }
}
