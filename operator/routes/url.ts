// What the route's status says: the URL clients outside the cluster use (from the admin's
// hostnames, else the address the Gateway or ingress controller published) and whether the
// Gateway's controller accepted the HTTPRoute (its status.parents conditions).

import type { KubeObject } from '../kube/client.ts';
import type { GatewayRef, RouteConfig } from './desired.ts';
import type { RouteOutcome } from './reconcile.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Gateway API objects as plain JSON, read field by field
type Json = any;

/** A hostname clients can use as it is: not a wildcard. */
function concrete(host: string | undefined): string | undefined {
  return host && !host.includes('*') ? host : undefined;
}

function url(scheme: 'http' | 'https', host: string, port: number | undefined, endpoint: string): string {
  const defaultPort = scheme === 'https' ? 443 : 80;
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host; // an IPv6 address
  return `${scheme}://${h}${port && port !== defaultPort ? `:${port}` : ''}${endpoint}`;
}

/** The listener the route attaches to: the named one, else the first HTTPS one, else the first HTTP one. */
function listenerOf(gateway: Json, sectionName: string | undefined): Json {
  const listeners: Json[] = gateway?.spec?.listeners ?? [];
  if (sectionName) return listeners.find((l) => l.name === sectionName);
  return listeners.find((l) => l.protocol === 'HTTPS') ?? listeners.find((l) => l.protocol === 'HTTP');
}

/** The API's URL through the Gateway, or undefined while nobody knows its address. */
export function gatewayUrl(
  gateway: KubeObject,
  config: Extract<RouteConfig, { kind: 'gateway' }>,
  endpoint: string,
): string | undefined {
  const g = gateway as Json;
  const listener = listenerOf(g, config.gateway.sectionName);
  const address: string | undefined = (g.status?.addresses ?? [])[0]?.value;
  const host = concrete(config.hostnames[0]) ?? concrete(listener?.hostname) ?? address;
  if (!host) return undefined;
  return url(listener?.protocol === 'HTTPS' ? 'https' : 'http', host, listener?.port, endpoint);
}

/** Whether the ingress controller published an address (status.loadBalancer.ingress). */
export function ingressPublished(ingress: KubeObject): boolean {
  return ((ingress as Json).status?.loadBalancer?.ingress ?? []).length > 0;
}

/** The API's URL through the Ingress, or undefined while nobody knows its address. */
export function ingressUrl(
  ingress: KubeObject,
  config: Extract<RouteConfig, { kind: 'ingress' }>,
  endpoint: string,
): string | undefined {
  const i = ingress as Json;
  const lb = (i.status?.loadBalancer?.ingress ?? [])[0];
  const host = concrete(config.hostnames[0]) ?? lb?.hostname ?? lb?.ip;
  if (!host) return undefined;
  return url((i.spec?.tls ?? []).length > 0 ? 'https' : 'http', host, undefined, endpoint);
}

/** The Routed condition from the route's status.parents entry for our Gateway. */
export function routeAcceptance(route: KubeObject, gateway: GatewayRef, what: string): Omit<RouteOutcome, 'url'> {
  const parents: Json[] = (route as Json).status?.parents ?? [];
  const parent = parents.find(
    (p) =>
      p.parentRef?.name === gateway.name &&
      (p.parentRef?.namespace ?? (route.metadata?.namespace as string)) === gateway.namespace &&
      (gateway.sectionName === undefined || p.parentRef?.sectionName === gateway.sectionName),
  );
  const conditions: Json[] = parent?.conditions ?? [];
  const accepted = conditions.find((c) => c.type === 'Accepted');
  const resolved = conditions.find((c) => c.type === 'ResolvedRefs');
  const gw = `Gateway ${gateway.namespace}/${gateway.name}`;
  if (!accepted) {
    return {
      status: 'Unknown',
      reason: 'RoutePending',
      message: `${what} is not accepted by ${gw} yet: is the controller of its GatewayClass running?`,
    };
  }
  if (accepted.status !== 'True') {
    const fix =
      accepted.reason === 'NotAllowedByListeners'
        ? `: let the listener's allowedRoutes.namespaces admit namespace ${route.metadata?.namespace} (docs/routes.md)`
        : '';
    return {
      status: 'False',
      reason: accepted.reason || 'RouteNotAccepted',
      message: `${gw} did not accept ${what}: ${accepted.message ?? accepted.reason}${fix}`,
    };
  }
  if (resolved && resolved.status !== 'True') {
    return {
      status: 'False',
      reason: resolved.reason || 'RefsNotResolved',
      message: `${gw} cannot reach the backend of ${what}: ${resolved.message ?? resolved.reason}`,
    };
  }
  return { status: 'True', reason: 'Accepted', message: `${gw} serves ${what}` };
}
