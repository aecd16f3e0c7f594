// Where the gateway sends a request in the local environment: the API or TrafficSplitter whose
// endpoint is the longest prefix of its path, that API's ready replicas, and why none takes it;
// and who already serves an endpoint a deploy asks for.
// Its own file because it only reads the supervisor's APIs and splitters (the gateway asks
// through its RouteTable, gateway.ts).
import type { ApiRunner } from './api-runner.ts';
import { stripEndpoint, type RouteTable } from './gateway.ts';
import type { LocalSplitters } from './splitters-local.ts';

/** The API serving `pathname` (longest endpoint). */
function matchApi(runners: Map<string, ApiRunner>, pathname: string): { api: string; endpoint: string } | undefined {
  // APIs that run first; then one whose first version failed (answered 503, not 404).
  for (const active of [true, false]) {
    let best: { api: string; endpoint: string } | undefined;
    for (const runner of runners.values()) {
      if (runner.active !== active) continue;
      const endpoint = runner.endpoint;
      if (
        stripEndpoint(endpoint, pathname) !== undefined &&
        (best === undefined || endpoint.length > best.endpoint.length)
      ) {
        best = { api: runner.name, endpoint };
      }
    }
    if (best) return best;
  }
  return undefined;
}

/** The gateway's view of `runners` (every API, by name) and `splitters`; both are read at each request. */
export function routeTable(runners: Map<string, ApiRunner>, splitters: LocalSplitters): RouteTable {
  return {
    match: (pathname) => {
      const api = matchApi(runners, pathname);
      const splitter = splitters.match(pathname);
      // the longer endpoint wins, an API's or a splitter's
      return splitter && (!api || splitter.endpoint.length > api.endpoint.length) ? splitter : api;
    },
    backends: (api) => (runners.get(api)?.routable() ?? []).map((r) => ({ id: r.id, port: r.port! })),
    isLeaving: (id) => [...runners.values()].some((r) => r.isDraining(id)),
    unavailableReason: (api) => runners.get(api)?.publicReason() ?? 'it was deleted',
    down: (api) => {
      const runner = runners.get(api);
      return runner === undefined || runner.active ? undefined : runner.publicReason();
    },
    endpoints: () =>
      [...runners.values()]
        .filter((r) => r.active)
        .map((r) => ({ api: r.name, endpoint: r.endpoint }))
        .concat(splitters.endpoints())
        .sort((a, b) => a.endpoint.localeCompare(b.endpoint)),
  };
}

/**
 * Who already serves `endpoint`, other than API `except` (which a deploy may move there): a running
 * API, or a TrafficSplitter (named so). Undefined when none does.
 */
export function endpointOwner(
  runners: Map<string, ApiRunner>,
  splitters: LocalSplitters,
  endpoint: string,
  except: string,
): { name: string; endpoint: string } | undefined {
  return (
    [...runners.values()].find((r) => r.name !== except && r.active && r.endpoint === endpoint) ??
    splitters
      .status()
      .map((sp) => ({ name: `TrafficSplitter ${sp.name}`, endpoint: sp.endpoint }))
      .find((sp) => sp.endpoint === endpoint)
  );
}
