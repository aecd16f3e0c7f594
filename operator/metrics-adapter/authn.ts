// Who is asking, the way aggregated API servers tell: the caller is the kube-apiserver's front
// proxy, proven by a TLS client certificate signed by the requestheader CA (and, when the
// cluster lists them, with one of the allowed common names); the user it acts for is in the
// X-Remote-User / X-Remote-Group / X-Remote-Extra-* headers (names as configured). All of it
// is published in kube-system/extension-apiserver-authentication, which the API server keeps
// current. Requests without such a certificate are refused: the headers of anyone else are
// not to be believed, and this server takes no bearer tokens.

import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { KubeClient } from '../kube/client.ts';
import { CONFIG_MAPS } from '../kube/resources.ts';
import type { PolicyRule } from '../reconcilers/types.ts';

export const AUTH_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' };

export const authnRbac: PolicyRule[] = [
  // A ClusterRole rule limited to that one name: the operator's RBAC has no kube-system Role.
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: [AUTH_CONFIGMAP.name] },
];

export interface RequestHeaderConfig {
  /** PEM bundle the front proxy's client certificates are signed by. */
  clientCA: string;
  /** Common names the proxy's certificate may have; empty: any certificate of the CA. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

const where = `${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}`;

function list(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${where}: ${key} is not a JSON list of strings: ${raw.slice(0, 80)}`);
  }
  if (!Array.isArray(parsed) || parsed.some((v) => typeof v !== 'string'))
    throw new Error(`${where}: ${key} is not a JSON list of strings`);
  return parsed as string[];
}

/** The front-proxy settings from the ConfigMap's data; an error that names what is missing. */
export function requestHeaderConfigFrom(data: Record<string, string> | undefined): RequestHeaderConfig {
  const d = data ?? {};
  const clientCA = d['requestheader-client-ca-file'];
  if (!clientCA || !clientCA.includes('BEGIN CERTIFICATE')) {
    throw new Error(
      `${where} has no requestheader-client-ca-file: ` +
        'the API server runs without --requestheader-client-ca-file, ' +
        'so it cannot call aggregated APIs such as custom.metrics.k8s.io ' +
        '(enable the front proxy, or run the operator with --no-metrics-api)',
    );
  }
  const config: RequestHeaderConfig = {
    clientCA,
    allowedNames: list(d, 'requestheader-allowed-names'),
    usernameHeaders: list(d, 'requestheader-username-headers'),
    uidHeaders: list(d, 'requestheader-uid-headers'),
    groupHeaders: list(d, 'requestheader-group-headers'),
    extraHeaderPrefixes: list(d, 'requestheader-extra-headers-prefix'),
  };
  if (config.usernameHeaders.length === 0) throw new Error(`${where} has no requestheader-username-headers`);
  return config;
}

export async function loadRequestHeaderConfig(client: KubeClient): Promise<RequestHeaderConfig> {
  const cm = await client.get<{ data?: Record<string, string> }>(
    CONFIG_MAPS,
    AUTH_CONFIGMAP.namespace,
    AUTH_CONFIGMAP.name,
  );
  return requestHeaderConfigFrom(cm.data);
}

export type Authentication = { user: UserInfo } | { error: string };

/** The user of a request that came through the front proxy, or why it is refused. */
export function authenticate(req: IncomingMessage, config: RequestHeaderConfig | undefined): Authentication {
  if (config === undefined) return { error: `the front proxy's CA is not known yet (${where} could not be read)` };
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return { error: 'not a TLS connection' };
  if (!socket.authorized) {
    const cert = socket.getPeerCertificate();
    return {
      error:
        cert && Object.keys(cert).length > 0
          ? `the client certificate is not signed by the requestheader CA (${String(socket.authorizationError)})`
          : 'no client certificate: only the Kubernetes API server (its front proxy) may call this API',
    };
  }
  const cn = socket.getPeerCertificate().subject?.CN;
  const cnText = Array.isArray(cn) ? cn.join(',') : cn;
  if (config.allowedNames.length > 0 && !config.allowedNames.includes(cnText ?? '')) {
    return {
      error:
        `the client certificate's common name "${cnText ?? ''}" ` +
        `is not one of requestheader-allowed-names (${config.allowedNames.join(', ')})`,
    };
  }
  const header = (name: string): string[] => (req.headersDistinct[name.toLowerCase()] ?? []).filter((v) => v !== '');
  const name = config.usernameHeaders.map((h) => header(h)[0]).find((v) => v !== undefined);
  if (name === undefined) return { error: `the front proxy sent no user (${config.usernameHeaders.join(', ')})` };
  const uid = config.uidHeaders.map((h) => header(h)[0]).find((v) => v !== undefined);
  const groups = config.groupHeaders.flatMap((h) => header(h));
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes.map((p) => p.toLowerCase())) {
    for (const [h, values] of Object.entries(req.headersDistinct)) {
      if (!h.startsWith(prefix) || h.length === prefix.length || values === undefined) continue;
      // extra keys are percent-encoded in the header name (k8s.io/apiserver headerrequest)
      const key = decodeURIComponent(h.slice(prefix.length)).toLowerCase();
      extra[key] = [...(extra[key] ?? []), ...values];
    }
  }
  return { user: { name, ...(uid !== undefined ? { uid } : {}), groups, extra } };
}
