// A `kind: TrafficSplitter` entry of cortex.yaml (Cortex's format: name, networking.endpoint,
// apis: [{name, weight, shadow}]) read into a TrafficSplitter spec, every problem reported with
// its field and fix. The APIs it names are checked across the file by load.ts, and against what
// is deployed by `cortex deploy` (splitterTargets).

import {
  SPLITTER_KIND,
  applySplitterDefaults,
  isPlainObject,
  validateSplitter,
  type TrafficSplitterSpec,
} from '../../operator/api/v1alpha1/index.ts';

export interface LoadedSplitter {
  name: string;
  kind: typeof SPLITTER_KIND;
  spec: TrafficSplitterSpec;
  /** Line of the splitter in the file (1-based). */
  line: number;
}

/** Records a problem at `field` (snake_case, within the splitter). */
export type Report = (field: (string | number)[], message: string, fix: string, part?: 'key' | 'value') => void;

const EXAMPLE = 'e.g. apis: [{name: iris, weight: 90}, {name: iris-v2, weight: 10}]';

/** The spec, or undefined when the entry is too broken to have one (its problems are reported). */
export function readSplitter(
  name: string,
  raw: Record<string, unknown>,
  report: Report,
): TrafficSplitterSpec | undefined {
  let ok = true;
  for (const key of Object.keys(raw)) {
    if (!['name', 'kind', 'networking', 'apis'].includes(key)) {
      report(
        [key],
        `unknown field "${key}" of a TrafficSplitter`,
        'remove it; fields allowed: name, kind, networking, apis',
        'key',
      );
      ok = false;
    }
  }
  let endpoint: string | undefined;
  if (raw.networking !== undefined) {
    if (!isPlainObject(raw.networking)) {
      report(['networking'], 'must be a mapping', 'write networking: {endpoint: /path}');
      ok = false;
    } else {
      for (const key of Object.keys(raw.networking)) {
        if (key === 'endpoint') continue;
        if (key === 'api_gateway') continue; // Cortex's AWS API Gateway switch: meaningless here, like an API's
        report(['networking', key], `unknown field "${key}" under networking`, 'remove it; allowed: endpoint', 'key');
        ok = false;
      }
      const e = raw.networking.endpoint;
      if (e !== undefined && (typeof e !== 'string' || e.trim() === '')) {
        report(['networking', 'endpoint'], 'must be a URL path', 'write e.g. endpoint: /sentiment');
        ok = false;
      } else endpoint = e;
    }
  }
  if (!Array.isArray(raw.apis) || raw.apis.length === 0) {
    report(
      ['apis'],
      raw.apis === undefined ? 'is required' : 'must be a list of APIs with weights',
      `list the RealtimeAPIs, ${EXAMPLE}`,
      raw.apis === undefined ? 'key' : 'value',
    );
    return undefined;
  }
  const apis: TrafficSplitterSpec['apis'] = [];
  raw.apis.forEach((item, i) => {
    if (!isPlainObject(item)) {
      report(['apis', i], 'must be a mapping with name and weight', EXAMPLE);
      ok = false;
      return;
    }
    for (const key of Object.keys(item)) {
      if (!['name', 'weight', 'shadow'].includes(key)) {
        report(['apis', i, key], `unknown field "${key}"`, 'remove it; allowed: name, weight, shadow', 'key');
        ok = false;
      }
    }
    if (typeof item.name !== 'string' || item.name === '') {
      report(
        ['apis', i, 'name'],
        'is required: the name of a RealtimeAPI',
        EXAMPLE,
        item.name === undefined ? 'key' : 'value',
      );
      ok = false;
    }
    const w = item.weight;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 100) {
      report(
        ['apis', i, 'weight'],
        w === undefined ? 'is required' : 'must be a whole number from 0 to 100',
        'give the percentage of requests this API answers (0 for a shadow)',
        w === undefined ? 'key' : 'value',
      );
      ok = false;
    }
    if (item.shadow !== undefined && typeof item.shadow !== 'boolean') {
      report(['apis', i, 'shadow'], 'must be true or false', 'write shadow: true for the API that gets copies');
      ok = false;
    }
    apis.push({ name: String(item.name), weight: Number(w), shadow: item.shadow === true });
  });
  if (!ok) return undefined;
  const spec = applySplitterDefaults(name, { networking: { endpoint: endpoint as string }, apis });
  for (const issue of validateSplitter(spec))
    report(
      issue.path.map((p) => (typeof p === 'number' ? p : p)),
      issue.message,
      issue.fix,
    );
  return validateSplitter(spec).length === 0 ? spec : undefined;
}
