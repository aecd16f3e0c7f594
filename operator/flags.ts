// The flags of `cortex-operator` (operator/main.ts): their defaults, their help, and the
// environment variables the chart sets some of them through.
import { homedir } from 'node:os';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { DEFAULT_ACTIVATOR_PORT } from './activator/index.ts';
import { DEFAULT_METRICS_API_PORT } from './metrics-adapter/index.ts';
import { addRouteOptions, type RouteFlags } from './routes/flags.ts';
import { LOG_LEVELS, type LogLevel } from './util/log.ts';

/** The runtime image when neither predictor.image nor --runtime-image says otherwise. */
export const DEFAULT_RUNTIME_IMAGE = 'cortex-ts/runtime:0.1.0';
/** The same for GPU APIs: runtime/Dockerfile.gpu, tagged <version>-gpu. */
export const DEFAULT_GPU_RUNTIME_IMAGE = `${DEFAULT_RUNTIME_IMAGE}-gpu`;
/** The node folder (hostPath) replicas share installed requirements in, and its size cap. */
export const DEFAULT_DEPENDENCY_CACHE_DIR = '/var/lib/cortex/dependency-cache';
export const DEFAULT_DEPENDENCY_CACHE_SIZE = '20Gi';
export interface Flags extends RouteFlags {
  kubeconfig?: string;
  queueUrl?: string;
  context?: string;
  namespace?: string;
  runtimeImage: string;
  gpuRuntimeImage: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  dependencyCacheDir: string;
  dependencyCacheSize: string;
  nodePoolsConfigmap?: string;
  nodePoolsNamespace?: string;
  nodePoolsFile: string;
  workers: string;
  resync: string;
  healthPort: string;
  clusterDomain: string;
  /** 'warn': the older spelling of 'warning', still accepted (charts installed with logLevel: warn). */
  logLevel: LogLevel | 'warn';
  printRbac?: boolean;
  serviceAccount: string;
  leaderElect: boolean;
  leaderElectionName: string;
  leaderElectionNamespace?: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  metricsApi: boolean;
  metricsApiPort: string;
  metricsApiBindAddress?: string;
  metricsApiCertFile?: string;
  metricsApiKeyFile?: string;
  metricsScrapeInterval: string;
  bundleGracePeriod: string;
  activatorPort: string;
  activatorAddress?: string;
  activatorBindAddress?: string;
  activatorTimeout: string;
}

/** Adds every flag of the operator (routes' too) to `command`. */
export function addOperatorOptions(command: Command): Command {
  return addRouteOptions(command)
    .option(
      '--kubeconfig <file>',
      'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount)',
    )
    .option('--context <name>', 'kubeconfig context')
    .addOption(
      new Option(
        '--queue-url <url>',
        "the queue of AsyncAPIs' requests and BatchJobs' batches, redis://HOST:PORT " +
          '(default: none; AsyncAPIs and BatchJobs are then not run, and their status says so)',
      ).env('CORTEX_QUEUE_URL'),
    )
    .option('-n, --namespace <namespace>', 'watch only this namespace (default: all)')
    .addOption(
      new Option('--runtime-image <image>', 'image of the replicas when predictor.image is not set')
        .default(DEFAULT_RUNTIME_IMAGE)
        .env('CORTEX_RUNTIME_IMAGE'),
    )
    .addOption(
      new Option(
        '--gpu-runtime-image <image>',
        'the same for APIs with compute.gpu > 0 (runtime/Dockerfile.gpu: CUDA libraries)',
      )
        .default(DEFAULT_GPU_RUNTIME_IMAGE)
        .env('CORTEX_GPU_RUNTIME_IMAGE'),
    )
    .addOption(
      new Option(
        '--dependency-cache-dir <path>',
        "a folder on every node where the replicas there share their installed requirements.txt ('' for none)",
      )
        .default(DEFAULT_DEPENDENCY_CACHE_DIR)
        .env('CORTEX_DEPENDENCY_CACHE_DIR'),
    )
    .addOption(
      new Option('--dependency-cache-size <size>', 'its size cap per node: least recently used environments go first')
        .default(DEFAULT_DEPENDENCY_CACHE_SIZE)
        .env('CORTEX_DEPENDENCY_CACHE_SIZE'),
    )
    .addOption(
      new Option('--image-pull-policy <policy>', 'imagePullPolicy of the replicas').choices([
        'Always',
        'IfNotPresent',
        'Never',
      ]),
    )
    .option(
      '--node-pools-configmap <name>',
      'read the node pools from this ConfigMap (key node-pools.yaml); default in a cluster: cortex-node-pools',
    )
    .option(
      '--node-pools-namespace <namespace>',
      "namespace of that ConfigMap (default: the operator's own, or cortex-system out of the cluster)",
    )
    .addOption(
      new Option('--node-pools-file <file>', 'out of the cluster: read the node pools from this file')
        .default(path.join(homedir(), '.cortex', 'operator', 'node-pools.yaml'))
        .env('CORTEX_NODE_POOLS_FILE'),
    )
    .option('--workers <n>', 'APIs reconciled in parallel', '4')
    .option('--resync <duration>', 'reconcile every API this often even without changes', '10m')
    .option('--health-port <port>', 'port of /healthz and /readyz (0: none)', '8081')
    .option('--cluster-domain <domain>', 'DNS suffix of Services, for status.endpoint', 'cluster.local')
    .addOption(
      new Option('--log-level <level>', 'debug, info, warning or error')
        .choices([...LOG_LEVELS, 'warn'])
        .default('info'),
    )
    .option('--print-rbac', 'print the RBAC objects the operator needs (YAML) and exit')
    .option('--service-account <name>', 'with --print-rbac: the ServiceAccount to bind', 'cortex-operator')
    .option('--leader-elect', 'run only while holding the leader Lease (default)', true)
    .option('--no-leader-elect', 'reconcile without leader election (run one replica only)')
    .option('--leader-election-name <name>', 'name of the Lease', 'cortex-operator')
    .option(
      '--leader-election-namespace <namespace>',
      "namespace of the Lease (default: the operator's own, or cortex-system out of the cluster)",
    )
    .option('--lease-duration <duration>', 'how long standbys wait after the last renewal before taking over', '15s')
    .option(
      '--renew-deadline <duration>',
      'the leader stops when it could not renew for this long (< lease duration)',
      '10s',
    )
    .option('--retry-period <duration>', 'between tries to acquire or renew the Lease', '2s')
    .option(
      '--bundle-grace-period <duration>',
      'delete a code bundle (ConfigMaps) that no API has owned or referred to for this long',
      '1h',
    )
    .option(
      '--metrics-api',
      'serve the custom metrics API (custom.metrics.k8s.io: cortex_in_flight_requests) the HPAs scale on (default)',
      true,
    )
    .option('--no-metrics-api', 'do not serve it (another adapter, e.g. prometheus-adapter, serves the metric)')
    .option('--metrics-api-port <port>', 'HTTPS port of the metrics API', String(DEFAULT_METRICS_API_PORT))
    .option('--metrics-api-bind-address <address>', 'address the metrics API listens on (default: all)')
    .option(
      '--metrics-api-cert-file <file>',
      'serving certificate of the metrics API (PEM); default: a self-signed one made at start',
    )
    .option('--metrics-api-key-file <file>', 'private key of that certificate (PEM)')
    .option('--metrics-scrape-interval <duration>', "how often every ready replica's /metrics is sampled", '1s')
    .option(
      '--activator-port <port>',
      'port of the activator, which holds requests for APIs at zero until a replica is ready ' +
        '(0: none, and no API goes to zero)',
      String(DEFAULT_ACTIVATOR_PORT),
    )
    .addOption(
      new Option(
        '--activator-address <ip>',
        "the address Services reach this replica's activator at (in a cluster: the pod IP, " +
          'from the downward API); without it no API goes to zero',
      ).env('CORTEX_ACTIVATOR_ADDRESS'),
    )
    .option('--activator-bind-address <address>', 'address the activator listens on (default: all)')
    .option(
      '--activator-timeout <duration>',
      'how long the activator holds a request for an API that is not ready before answering 503',
      '2m',
    );
}
