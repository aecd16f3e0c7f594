// networking.auth on the local gateway: an API with auth: api_key needs one of its keys
// ($CORTEX_HOME/api-keys/<api>/, written by `cortex api-key`, cli/local/keys.ts), checked with the
// runtime's code (operator/auth/keys.ts) and read again every second, so a created or revoked key
// takes effect within a second without a redeploy. Locally only the gateway checks: replicas
// listen on the loopback address and are reached through it.
//
// Every refusal is a line in the supervisor's log (the key's name on a 429, never a key). The
// gateway has no metrics endpoint: its counter (the runtime's cortex_api_key_requests_total) is
// kept for a caller that registers it (the tests).
import type http from 'node:http';
import type { AuthMode } from '../../operator/api/v1alpha1/index.ts';
import type { JsonLogger } from '../../operator/util/log.ts';
import { AuthMetrics, admit } from '../../operator/auth/gate.ts';
import { KeyDir } from '../../runtime/key-dir.ts';
import type { Authorize } from './gateway.ts';
import { localKeysDir } from './keys.ts';
import type { Layout } from './paths.ts';

export interface GatewayAuthOptions {
  layout: Pick<Layout, 'home'>;
  log: JsonLogger;
  /** The auth mode of the version of `api` that serves now. */
  mode(api: string): AuthMode;
  metrics?: AuthMetrics;
  reloadMs?: number;
}

export function gatewayAuth(options: GatewayAuthOptions): { authorize: Authorize; stop(): void } {
  const dirs = new Map<string, KeyDir>();
  const metrics = options.metrics ?? new AuthMetrics();
  const keysOf = (api: string) => {
    let dir = dirs.get(api);
    if (dir === undefined) {
      dir = new KeyDir({
        dir: localKeysDir(options.layout, api),
        warn: (message) => options.log.warn(message, { api }),
        reloadMs: options.reloadMs,
      });
      dirs.set(api, dir);
    }
    return dir.ring;
  };
  const authorize: Authorize = (api: string, req: http.IncomingMessage, res: http.ServerResponse) => {
    if (options.mode(api) !== 'api_key') return 'open';
    const verdict = admit(keysOf(api), api, metrics, req, res);
    if (verdict.ok) return 'allowed';
    if (options.log.enabled('info')) {
      options.log.info(`${req.method} ${api} ${verdict.status}`, {
        api,
        status: verdict.status,
        ...(verdict.status === 429 ? { api_key: verdict.key } : { reason: verdict.reason }),
      });
    }
    return 'refused';
  };
  return {
    authorize,
    stop: () => {
      for (const dir of dirs.values()) dir.stop();
      dirs.clear();
    },
  };
}
