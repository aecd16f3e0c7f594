// Which API a request to the activator is for. Requests arrive through the API's Service, so
// their Host header is one of the names cluster DNS gives it:
//   <api>.<namespace>, <api>.<namespace>.svc, <api>.<namespace>.svc.<cluster domain>
// (with or without a port). A client that reaches the activator some other way (a test, a
// gateway that rewrites Host) names the API with the header X-Cortex-API: <namespace>/<api>,
// which wins over Host.

import type { IncomingHttpHeaders } from 'node:http';

export const API_HEADER = 'x-cortex-api';

/** A DNS-1123 label: what Kubernetes allows as a namespace and a Service name. */
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The API a request is for (`from`: which header said so), or why it names none. */
export type Route = { namespace: string; name: string; from: string } | { error: string };

const HOW =
  'the activator finds the API from the Host header ' +
  "(<api>.<namespace>[.svc[.<cluster domain>]], as the API's Service is called) " +
  'or from the header X-Cortex-API: <namespace>/<api>';

function named(namespace: string, name: string, from: string): Route {
  if (!LABEL.test(namespace) || !LABEL.test(name))
    return { error: `${from} does not name an API (namespace and name must be DNS labels): ${HOW}` };
  return { namespace, name, from };
}

/** The host without its port ("a.b:80" → "a.b", "[::1]:80" → "[::1]"), lower-cased, without a final dot. */
function hostname(host: string): string {
  const h = host.trim().toLowerCase();
  const bare = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return bare.replace(/\.$/, '');
}

export function routeOf(headers: IncomingHttpHeaders, clusterDomain: string): Route {
  const explicit = headers[API_HEADER];
  if (explicit !== undefined) {
    const value = (Array.isArray(explicit) ? explicit[0] : explicit).trim();
    const parts = value.split('/');
    if (parts.length !== 2) return { error: `X-Cortex-API "${value}" is not <namespace>/<api>` };
    return named(parts[0], parts[1], `X-Cortex-API "${value}"`);
  }
  const host = headers.host;
  if (!host) return { error: `the request has no Host header: ${HOW}` };
  const labels = hostname(host).split('.');
  const domain = clusterDomain.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
  const rest = labels.slice(2);
  const ok =
    rest.length === 0 ||
    (rest.length === 1 && rest[0] === 'svc') ||
    (rest[0] === 'svc' && rest.length === 1 + domain.length && rest.slice(1).every((l, i) => l === domain[i]));
  if (labels.length < 2 || !ok) return { error: `Host "${host}" is not an API's Service name: ${HOW}` };
  return named(labels[1], labels[0], `Host "${host}"`);
}
