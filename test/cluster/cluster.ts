// A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (fake nodes whose pods it marks Running), all on 127.0.0.1.
// startCluster() builds what is missing (build.ts), starts everything under one state dir,
// registers the fake node pools, applies the repository's CRDs and returns a kubeconfig.
import https from 'node:https';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { defaultLog, ensureBinaries, type Binaries, type Log } from './build.ts';
import { makePki, type Pki } from './certs.ts';
import { kubectlFor, type Kubectl } from './kubectl.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { withLock } from './lock.ts';
import { FAKE_NODES, registerFakeNodes, writeNodePools } from './nodes.ts';
import { defaultStateDir, KUBERNETES_VERSION, nodePoolsFile } from './paths.ts';
import { freePort, portPreferring } from './ports.ts';
import { daemons, killAllSync, logTail, running, startDaemon, stopDaemon, type Daemon } from './processes.ts';

export const SERVICE_CIDR = '10.96.0.0/12';
/** Fake pod IPs handed out by kwok (the default). Nothing may ever connect to them. */
export const POD_CIDR = '10.244.0.0/16';
/**
 * Pod IPs on loopback (podCidr option): a test may then serve on a pod's IP itself (a real
 * runtime per pod). Endpoints/EndpointSlices reject loopback addresses, so Services selecting
 * such pods get none (the endpoint controllers log it and retry).
 */
export const LOOPBACK_POD_CIDR = '127.244.0.0/16';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Start order; stopped in reverse. */
const ORDER = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];

export interface ClusterOptions {
  /** Default: $CORTEX_TEST_CLUSTER_DIR or ~/.cache/cortex-test-cluster/state. */
  stateDir?: string;
  log?: Log;
  /** CRD YAML folder applied after start; false for none. Default: the repository's crds/. */
  crdsDir?: string | false;
  /** A CRD the API server rejects fails the start ('throw', the default) or is only reported ('warn'). */
  crdErrors?: 'throw' | 'warn';
  /**
   * Where node-pools.yaml goes (it is always written to the state dir too); false: only there.
   * Default: ~/.cortex/operator/node-pools.yaml.
   */
  nodePoolsFile?: string | false;
  /** The API server's port when free. Default: 6443 for the default state dir, any free port otherwise. */
  apiserverPort?: number;
  /** Kill the cluster when this process exits (tests). Default: true, unless an already running cluster was reused. */
  stopOnExit?: boolean;
  /**
   * Where kwok takes pod IPs from. Default POD_CIDR (fake, never to be connected to);
   * LOOPBACK_POD_CIDR for pods a test serves itself.
   */
  podCidr?: string;
  /** Extra flags per component, e.g. { 'kube-controller-manager': ['--horizontal-pod-autoscaler-sync-period=5s'] }. */
  extraArgs?: Partial<
    Record<'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok', string[]>
  >;
}

export interface ClusterState {
  version: string;
  server: string;
  kubeconfig: string;
  nodePoolsFile: string;
  ports: Record<string, number>;
  startedAt: string;
}

export interface Cluster extends ClusterState {
  stateDir: string;
  binaries: Binaries;
  /** Whether a cluster already running in this state dir was returned. */
  reused: boolean;
  kubectl: Kubectl;
  stop(): Promise<void>;
  /**
   * Stops only the kube-apiserver, keeps it down for `downMs`, then starts it again with the same
   * flags: the same port and etcd, so the same state (fault tests: clients see it go and come back).
   */
  restartApiserver(options: { downMs: number }): Promise<ApiserverRestart>;
}

export interface ApiserverRestart {
  /** When the old process was gone, and when the new one answered /readyz 200 (epoch ms). */
  stoppedAt: number;
  startedAt: number;
  readyAt: number;
}

const stateFile = (stateDir: string) => path.join(stateDir, 'state.json');

export function readState(stateDir = defaultStateDir()): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** GET `url` on the API server with the admin identity; the status code, 0 when unreachable. */
function apiGet(url: string, pki: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ...pki, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function adminPki(stateDir: string) {
  const dir = path.join(stateDir, 'pki');
  return {
    ca: readFileSync(path.join(dir, 'ca.crt')),
    cert: readFileSync(path.join(dir, 'admin.crt')),
    key: readFileSync(path.join(dir, 'admin.key')),
  };
}

export async function apiserverReady(stateDir: string, server: string): Promise<boolean> {
  try {
    return (await apiGet(`${server}/readyz`, adminPki(stateDir))) === 200;
  } catch {
    return false;
  }
}

/**
 * Stops the kube-apiserver of a running cluster (SIGTERM; etcd and the other components keep
 * running), waits `downMs`, and starts it again with the flags the old process had (read from
 * /proc/<pid>/cmdline): the same --secure-port, so clients reconnect to the same address.
 */
export async function restartApiserver(
  stateDir: string,
  server: string,
  options: { downMs: number },
): Promise<ApiserverRestart> {
  const old = daemons(stateDir).find((d) => d.name === 'kube-apiserver');
  if (!old || !running(old)) throw new Error(`no kube-apiserver runs in ${stateDir}`);
  const [bin, ...args] = readFileSync(`/proc/${old.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  await stopDaemon(stateDir, old);
  const stoppedAt = Date.now();
  await sleep(options.downMs);
  // the port was free while the old process held it; nothing else listens on loopback ports of
  // the test cluster, so it is still free now (startDaemon's log says why if it is not)
  const startedAt = Date.now();
  const apiserver = startDaemon(stateDir, 'kube-apiserver', bin, args);
  await waitUntil(`kube-apiserver ${server}/readyz after a restart`, apiserver, 120_000, () =>
    apiserverReady(stateDir, server),
  );
  return { stoppedAt, startedAt, readyAt: Date.now() };
}

async function waitUntil(what: string, d: Daemon, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!running(d)) throw new Error(`${d.name} exited while waiting for ${what}; ${d.log}:\n${logTail(d)}`);
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; ${d.log}:\n${logTail(d)}`);
}

export interface ClusterStatus {
  up: boolean;
  state?: ClusterState;
  daemons: (Daemon & { running: boolean })[];
  apiserverReady: boolean;
}

export async function clusterStatus(stateDir = defaultStateDir()): Promise<ClusterStatus> {
  const state = readState(stateDir);
  const ds = daemons(stateDir).map((d) => ({ ...d, running: running(d) }));
  const ready = state !== undefined && (await apiserverReady(stateDir, state.server));
  const up = ready && ORDER.every((n) => ds.some((d) => d.name === n && d.running));
  return { up, state, daemons: ds, apiserverReady: ready };
}

/** Stops every process of the state dir (by pid, verified gone) and removes the state (unless keepFiles). */
export async function stopCluster(
  stateDir = defaultStateDir(),
  log: Log = defaultLog,
  keepFiles = false,
): Promise<void> {
  const ds = daemons(stateDir).sort((a, b) => ORDER.indexOf(b.name) - ORDER.indexOf(a.name));
  for (const d of ds) {
    if (running(d)) log(`stopping ${d.name} (pid ${d.pid})`);
    await stopDaemon(stateDir, d);
  }
  const left = daemons(stateDir).filter(running);
  if (left.length > 0) throw new Error(`still running: ${left.map((d) => `${d.name} ${d.pid}`).join(', ')}`);
  if (keepFiles) return;
  // Only what startCluster writes: a mistaken CORTEX_TEST_CLUSTER_DIR must not lose files.
  for (const f of ['run', 'logs', 'pki', 'etcd', 'kubeconfigs', 'state.json', 'node-pools.yaml', 'kubeconfig']) {
    rmSync(path.join(stateDir, f), { recursive: true, force: true });
  }
  try {
    if (readdirSync(stateDir).length === 0) rmSync(stateDir, { recursive: true });
  } catch {
    // no state dir
  }
}

export const REPO_CRDS_DIR = path.join(repoRoot, 'crds');
/** The namespace cortex-operator uses by default out of a cluster. */
export const OPERATOR_NAMESPACE = 'cortex-system';

function crdFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Applies (server-side) every YAML file in `dir` and waits for its CRDs to be Established; their names. */
export async function applyCrds(kubectl: Kubectl, dir = REPO_CRDS_DIR): Promise<string[]> {
  const names: string[] = [];
  for (const f of crdFiles(dir)) {
    const out = await kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=cortex-test-cluster',
      '-o',
      'name',
      '-f',
      f,
    ]);
    names.push(...out.split('\n').filter((l) => l.startsWith('customresourcedefinition')));
  }
  if (names.length > 0) await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  return names;
}

async function waitForDefaultServiceAccount(kubectl: Kubectl, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name']);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

async function launch(stateDir: string, b: Binaries, opts: ClusterOptions, log: Log): Promise<ClusterState> {
  const extra = opts.extraArgs ?? {};
  mkdirSync(stateDir, { recursive: true });
  const pki: Pki = await makePki(stateDir);
  const isDefault = path.resolve(stateDir) === path.resolve(defaultStateDir());
  const ports = {
    etcd: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await portPreferring(opts.apiserverPort ?? (isDefault ? 6443 : undefined)),
    controllerManager: await freePort(),
    scheduler: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = path.join(stateDir, 'kubeconfig');
  const kcDir = path.join(stateDir, 'kubeconfigs');
  mkdirSync(kcDir, { recursive: true });
  writeKubeconfig(kubeconfig, server, pki.caCert, pki.clients.admin, 'cortex-test-admin');
  const kcmConfig = path.join(kcDir, 'kube-controller-manager');
  const schedConfig = path.join(kcDir, 'kube-scheduler');
  writeKubeconfig(
    kcmConfig,
    server,
    pki.caCert,
    pki.clients['kube-controller-manager'],
    'system:kube-controller-manager',
  );
  writeKubeconfig(schedConfig, server, pki.caCert, pki.clients['kube-scheduler'], 'system:kube-scheduler');

  const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
  const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
  let t = Date.now();
  const etcd = startDaemon(stateDir, 'etcd', b.etcd, [
    '--name=default',
    `--data-dir=${path.join(stateDir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=default=${peerUrl}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
    ...(extra.etcd ?? []),
  ]);
  await waitUntil('etcd /health', etcd, 30_000, async () => {
    try {
      return ((await (await fetch(`${etcdUrl}/health`)).json()) as { health: string }).health === 'true';
    } catch {
      return false;
    }
  });
  log(`etcd ready on ${etcdUrl} (${Date.now() - t} ms)`);

  t = Date.now();
  const apiserver = startDaemon(stateDir, 'kube-apiserver', b.kubeApiserver, [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${path.join(pki.dir, 'apiserver')}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
    '--endpoint-reconciler-type=none',
    `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki.frontProxyClientCert}`,
    `--proxy-client-key-file=${pki.frontProxyClientKey}`,
    '--profiling=false',
    ...(extra['kube-apiserver'] ?? []),
  ]);
  await waitUntil(`kube-apiserver ${server}/readyz`, apiserver, 120_000, () => apiserverReady(stateDir, server));
  log(`kube-apiserver ready on ${server} (${Date.now() - t} ms)`);

  const authn = (kc: string) => [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
  ];
  startDaemon(stateDir, 'kube-controller-manager', b.kubeControllerManager, [
    ...authn(kcmConfig),
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    `--root-ca-file=${pki.caCert}`,
    `--service-account-private-key-file=${pki.saKey}`,
    '--use-service-account-credentials=true',
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--controllers=*',
    ...(extra['kube-controller-manager'] ?? []),
  ]);
  startDaemon(stateDir, 'kube-scheduler', b.kubeScheduler, [
    ...authn(schedConfig),
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    ...(extra['kube-scheduler'] ?? []),
  ]);
  startDaemon(stateDir, 'kwok', b.kwok, [
    `--kubeconfig=${kubeconfig}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    '--node-lease-duration-seconds=40',
    `--cidr=${opts.podCidr ?? POD_CIDR}`,
    '--node-ip=127.0.0.1',
    ...(extra.kwok ?? []),
  ]);

  const kubectl = kubectlFor(b.kubectl, kubeconfig);
  t = Date.now();
  await registerFakeNodes(kubectl);
  log(`nodes Ready: ${FAKE_NODES.join(', ')} (${Date.now() - t} ms)`);
  if (opts.crdsDir !== false) {
    const dir = opts.crdsDir ?? REPO_CRDS_DIR;
    try {
      const names = await applyCrds(kubectl, dir);
      if (names.length > 0) log(`CRDs Established: ${names.map((n) => n.split('/')[1]).join(', ')}`);
    } catch (err) {
      if (opts.crdErrors !== 'warn') throw err;
      log(
        `WARNING: the CRDs in ${dir} were not all applied; the cluster runs without them:\n` +
          (err instanceof Error ? err.message : String(err)),
      );
    }
  }
  await waitForDefaultServiceAccount(kubectl);
  // The operator's home out of the cluster (its leader-election Lease, its node-pool ConfigMap):
  // with it in place, `npx cortex-operator` against this cluster needs no flags.
  await kubectl(['create', 'namespace', OPERATOR_NAMESPACE, '--dry-run=client', '-o', 'yaml']).then((yaml) =>
    kubectl(['apply', '--server-side', '--field-manager=cortex-test-cluster', '-f', '-'], { input: yaml }),
  );

  const pools =
    opts.nodePoolsFile === false ? path.join(stateDir, 'node-pools.yaml') : (opts.nodePoolsFile ?? nodePoolsFile());
  writeNodePools(path.join(stateDir, 'node-pools.yaml'));
  if (opts.nodePoolsFile !== false) writeNodePools(pools);

  const state: ClusterState = {
    version: KUBERNETES_VERSION,
    server,
    kubeconfig,
    nodePoolsFile: pools,
    ports,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(stateFile(stateDir), JSON.stringify(state, null, 2) + '\n');
  return state;
}

/** Starts the cluster (or returns the one already running in the same state dir). */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? defaultLog;
  const stateDir = path.resolve(opts.stateDir ?? defaultStateDir());
  const binaries = await ensureBinaries(log);
  const { state, reused } = await withLock(`${stateDir}.lock`, `starting the cluster in ${stateDir}`, log, async () => {
    const status = await clusterStatus(stateDir);
    if (status.up && status.state) return { state: status.state, reused: true };
    if (status.daemons.length > 0 || status.state) log(`cleaning up a cluster that is not fully up in ${stateDir}`);
    await stopCluster(stateDir, log); // also the files a failed start kept
    const start = Date.now();
    try {
      const state = await launch(stateDir, binaries, opts, log);
      log(
        `cluster up in ${((Date.now() - start) / 1000).toFixed(1)}s ` +
          `(Kubernetes ${KUBERNETES_VERSION}, logs in ${path.join(stateDir, 'logs')})`,
      );
      return { state, reused: false };
    } catch (err) {
      // Stop what started but keep the logs to read; the next start cleans up.
      await stopCluster(stateDir, log, true).catch(() => {});
      rmSync(stateFile(stateDir), { force: true });
      log(`start failed; logs kept in ${path.join(stateDir, 'logs')}`);
      throw err;
    }
  });
  // On exit, and on the signals that end a test run (Ctrl-C), which skip 'exit' handlers: kill
  // the cluster, then let the signal end the process as it would have.
  const onExit = () => killAllSync(stateDir);
  const onSignal = (signal: NodeJS.Signals) => {
    onExit();
    removeHandlers();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const removeHandlers = () => {
    process.removeListener('exit', onExit);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  };
  if (opts.stopOnExit ?? !reused) {
    process.once('exit', onExit);
    for (const s of SIGNALS) process.once(s, onSignal);
  }
  return {
    ...state,
    stateDir,
    binaries,
    reused,
    kubectl: kubectlFor(binaries.kubectl, state.kubeconfig),
    stop: async () => {
      removeHandlers();
      await stopCluster(stateDir, log);
    },
    restartApiserver: (options) => restartApiserver(stateDir, state.server, options),
  };
}
