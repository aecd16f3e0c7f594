// Where the node pools come from: a ConfigMap the operator watches (in the cluster, or when
// named explicitly) or a file it re-reads when it changes (out of the cluster).

import { readFileSync, statSync } from 'node:fs';
import { Informer, listerWatcher } from './controller/informer.ts';
import { errorMessage } from './util/errors.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { CONFIG_MAPS } from './kube/resources.ts';
import type { Logger } from './util/log.ts';
import { NODE_POOLS_KEY, parseNodePools, type NodePools } from './node-pools.ts';
import type { PolicyRule } from './reconcilers/types.ts';

/** Reading the node pools' ConfigMap, in the operator's namespace only. */
export const nodePoolsRbac: PolicyRule[] = [
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'], scope: 'operator-namespace' },
];

export interface NodePoolSource {
  current(): NodePools;
  /** Calls `onChange` whenever the pools may have changed. */
  start(onChange: () => void): Promise<void>;
  stop(): Promise<void>;
}

/** Pools from the ConfigMap `namespace/name` (key node-pools.yaml); none while it does not exist. */
export function configMapPools(
  client: KubeClient,
  namespace: string,
  name: string,
  log: Logger,
  informerOptions: { resyncMs?: number } = {},
): NodePoolSource {
  const source = `ConfigMap ${namespace}/${name}`;
  const informer = new Informer<KubeObject>({
    name: 'node-pools',
    source: listerWatcher(client, CONFIG_MAPS, namespace, { fieldSelector: `metadata.name=${name}` }),
    log,
    ...informerOptions,
  });
  let cached: { rv: string | undefined; pools: NodePools } | undefined;
  return {
    current() {
      const cm = informer.get(`${namespace}/${name}`);
      if (!cm) return { pools: [], source: '' };
      const rv = cm.metadata?.resourceVersion;
      if (cached && cached.rv === rv) return cached.pools;
      const text = (cm.data as Record<string, string> | undefined)?.[NODE_POOLS_KEY];
      let pools: NodePools;
      if (text === undefined) pools = { pools: [], source, error: `it has no key ${NODE_POOLS_KEY}` };
      else {
        try {
          pools = { pools: parseNodePools(text), source };
        } catch (error) {
          pools = { pools: [], source, error: errorMessage(error) };
          log.error(`node pools: ${source} is invalid`, { error: errorMessage(error) });
        }
      }
      cached = { rv, pools };
      return pools;
    },
    async start(onChange) {
      informer
        .on('add', onChange)
        .on('update', (o, old) => {
          if (o.metadata?.resourceVersion !== old.metadata?.resourceVersion) onChange();
        })
        .on('delete', onChange);
      informer.start();
      await informer.waitForSync();
    },
    stop: () => informer.stop(),
  };
}

/** Pools from a YAML file, re-read when its modification time changes (checked every pollMs). */
export function filePools(file: string, log: Logger, pollMs = 5000): NodePoolSource {
  let cached: { mtime: number; pools: NodePools } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const mtimeOf = () => {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return -1;
    }
  };
  const read = (): NodePools => {
    const mtime = mtimeOf();
    if (cached && cached.mtime === mtime) return cached.pools;
    let pools: NodePools;
    if (mtime < 0) pools = { pools: [], source: '' };
    else {
      try {
        pools = { pools: parseNodePools(readFileSync(file, 'utf8')), source: file };
      } catch (error) {
        pools = { pools: [], source: file, error: errorMessage(error) };
        log.error(`node pools: ${file} is invalid`, { error: errorMessage(error) });
      }
    }
    cached = { mtime, pools };
    return pools;
  };
  return {
    current: read,
    async start(onChange) {
      let last = mtimeOf();
      read();
      timer = setInterval(() => {
        const now = mtimeOf();
        if (now !== last) {
          last = now;
          log.info(`node pools: ${file} changed`);
          onChange();
        }
      }, pollMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
    },
  };
}
