// The HTTPS server of the custom metrics API: TLS with the serving certificate (given, or a
// self-signed one made at start), client certificates requested and checked against the front
// proxy's CA (authn.ts), every metric read authorized (authz.ts), then answered (api.ts).
// /healthz needs no identity (kubelet probes).

import { createServer, type Server } from 'node:https';
import { hostname } from 'node:os';
import selfsigned from 'selfsigned';
import type { Logger } from '../util/log.ts';
import { attributesOf, route, status, type Answer, type MetricsApi } from './api.ts';
import { authenticate, type RequestHeaderConfig } from './authn.ts';
import type { Authorizer } from './authz.ts';

export interface ServingCert {
  cert: string;
  key: string;
}

/** A self-signed serving certificate for localhost, 127.0.0.1, this host and `dnsNames`, valid a year. */
export async function selfSignedCert(dnsNames: string[] = []): Promise<ServingCert> {
  const names = [...new Set(['localhost', hostname(), ...dnsNames])];
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'cortex-operator-metrics-api' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...names.map((value) => ({ type: 2 as const, value })),
          { type: 7 as const, ip: '127.0.0.1' },
          { type: 7 as const, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface MetricsServerOptions {
  cert: ServingCert;
  api: MetricsApi;
  authorize: Authorizer;
  /**
   * The front-proxy settings now. Known before the server is made: without a CA, Node would
   * check client certificates against its public roots.
   */
  requestHeader: () => RequestHeaderConfig;
  log: Logger;
  /** Told of every answer (the operator's metrics). */
  onRequest?: (code: number) => void;
}

function send(res: import('node:http').ServerResponse, answer: Answer, onRequest?: (code: number) => void): void {
  onRequest?.(answer.status);
  res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
}

export function createMetricsServer(options: MetricsServerOptions): Server & { setClientCA(ca: string): void } {
  const { cert, api, authorize, log, onRequest } = options;
  // rejectUnauthorized is off so that a caller without a good certificate gets a 401 Status
  // it can read instead of a failed handshake; authenticate() checks socket.authorized.
  const tls = (ca: string) => ({ cert: cert.cert, key: cert.key, ca });
  const server = createServer(
    { ...tls(options.requestHeader().clientCA), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://localhost');
      if (url.pathname === '/healthz' || url.pathname === '/livez' || url.pathname === '/readyz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const who = authenticate(req, options.requestHeader());
      if ('error' in who) {
        log.debug('metrics API: unauthenticated request refused', { path: url.pathname, error: who.error });
        return send(res, status(401, 'Unauthorized', who.error), onRequest);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return send(
          res,
          status(
            405,
            'MethodNotAllowed',
            `the server does not allow this method on the requested resource (${req.method})`,
          ),
          onRequest,
        );
      }
      const r = route(url.pathname);
      if (r === undefined)
        return send(
          res,
          status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`),
          onRequest,
        );
      // discovery: any authenticated user
      if (r.kind !== 'metric') return send(res, api.answer(r, url.searchParams), onRequest);
      const attributes = attributesOf(r);
      authorize(who.user, attributes).then(
        (decision) => {
          if (!decision.allowed) {
            const what =
              `${attributes.resource}/${attributes.subresource} "${attributes.name}" ` +
              `in the API group "${attributes.group}"` +
              (attributes.namespace ? ` in the namespace "${attributes.namespace}"` : '');
            return send(
              res,
              status(
                403,
                'Forbidden',
                `${who.user.name} cannot get ${what}${decision.reason ? `: ${decision.reason}` : ''}`,
              ),
              onRequest,
            );
          }
          send(res, api.answer(r, url.searchParams), onRequest);
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          log.warn('metrics API: authorization failed', { user: who.user.name, error: message });
          send(res, status(500, 'InternalError', `authorizing ${who.user.name} failed: ${message}`), onRequest);
        },
      );
    },
  );
  return Object.assign(server, {
    /** Swaps the CA client certificates are checked against (the ConfigMap changed); new connections use it. */
    setClientCA(ca: string) {
      server.setSecureContext(tls(ca));
    },
  });
}
