// Versions of everything the test cluster runs, and where it keeps its files.
import { homedir } from 'node:os';
import path from 'node:path';

/** The Kubernetes release built from the Go module proxy (staging modules are v0.<minor>.<patch>). */
export const KUBERNETES_VERSION = 'v1.37.2';
/** kwok: v0.7.0 has built-in stages that make pods on fake nodes Running/Ready. */
export const KWOK_VERSION = 'v0.7.0';
export const HELM_VERSION = 'v3.17.4';
/** The Kubernetes minor helm's own release stamps (its client-go v0.32): the default
 * .Capabilities.KubeVersion of `helm template` and `helm lint`, v1.20 if not stamped. */
export const HELM_KUBE_MINOR = '32';
/** The oldest kubectl on PATH that is reused instead of building one. */
export const MIN_KUBECTL_MINOR = 32;

/** Root of everything cached: binaries per Kubernetes version, the default state dir. */
export function cacheRoot(): string {
  return process.env.CORTEX_TEST_CLUSTER_CACHE ?? path.join(homedir(), '.cache', 'cortex-test-cluster');
}

/** Where the binaries of one Kubernetes version live. */
export function binDir(version = KUBERNETES_VERSION): string {
  return path.join(cacheRoot(), version, 'bin');
}

/** The throwaway Go module the Kubernetes binaries and etcd are built from. */
export function moduleDir(version = KUBERNETES_VERSION): string {
  return path.join(cacheRoot(), version, 'module');
}

/** A running cluster's pids, certs, logs, data and kubeconfig. */
export function defaultStateDir(): string {
  return process.env.CORTEX_TEST_CLUSTER_DIR ?? path.join(cacheRoot(), 'state');
}

/** Where the operator reads its node pools from. */
export function nodePoolsFile(): string {
  return process.env.CORTEX_NODE_POOLS_FILE ?? path.join(homedir(), '.cortex', 'operator', 'node-pools.yaml');
}
