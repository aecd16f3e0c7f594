// The servers of npm run bench:peers: cortex serve (with and without server-side batching) and
// each peer in its documented form (the adapters next to this file; docs/peers.md says why each
// configuration is fair). Every one loads bench/fixtures/onnx-mlp/model.onnx with onnxruntime on
// one intra-op thread, runs one worker/replica/process, and batches up to 16 rows with a ~2 ms
// window where it batches at all.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { RequestForm, ResponseForm } from './answers.ts';
import { BENCH_DIR, ROOT } from '../servers.ts';
import { PEERS_CACHE } from './venv.ts';

export const PEERS_DIR = join(BENCH_DIR, 'peers');
export const FIXTURE = join(BENCH_DIR, 'fixtures', 'onnx-mlp');
const CORTEX_CLI = join(ROOT, 'cli', 'bin', 'cortex.ts');

export interface Launch {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
}

export interface Server {
  id: string;
  label: string;
  /** cortex is measured against the best of the peers. */
  side: 'cortex' | 'peer';
  /** Pinned requirements (bench/peers/requirements-<id>.txt); cortex builds its own venv. */
  requirements?: string;
  /** Packages whose pinned versions the run reports. */
  packages: string[];
  /** Server-side batching as configured, for the table and the JSON. */
  batching: string;
  /** How many free ports it needs; the first is HTTP. */
  ports: number;
  command(python: string, ports: number[]): Launch;
  path: string;
  request: RequestForm;
  response: ResponseForm;
  startTimeoutMs: number;
  /** Processes (by command line) that serve requests, reported alone beside the whole tree. */
  worker?: { label: string; match: RegExp };
  /** Why it cannot run here, found before starting it; undefined when it can. */
  unavailable?(): string | undefined;
}

const py = (script: string) => join(PEERS_DIR, script);

const cortex = (id: string, api: string, batching: string): Server => ({
  id,
  label: `cortex serve${batching === 'off' ? '' : ', server_side_batching'}`,
  side: 'cortex',
  packages: [],
  batching,
  ports: 1,
  command: (_python, [port]) => ({
    cmd: process.execPath,
    args: [CORTEX_CLI, 'serve', FIXTURE, '--api', api, '--host', '127.0.0.1', '--port', String(port)],
  }),
  path: '/',
  request: 'object',
  response: 'object',
  // The first start installs requirements.txt into cortex's own venv cache.
  startTimeoutMs: 600_000,
  // The rest of the tree is the node front: the split shows which side a request's CPU is on.
  worker: { label: 'Python worker', match: /cortex_host\.py/ },
});

/** Where the Python running the peers keeps libpython (see the pytriton entry). */
function pythonLibDir(): string {
  try {
    const code = 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))';
    return execFileSync('python3', ['-c', code], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export const SERVERS: Server[] = [
  cortex('cortex', 'onnx-mlp', 'off'),
  cortex('cortex-batching', 'onnx-mlp-batching', 'max_batch_size 16, batch_interval 2ms'),
  {
    id: 'bentoml',
    label: 'BentoML',
    side: 'peer',
    requirements: join(PEERS_DIR, 'requirements-bentoml.txt'),
    packages: ['bentoml'],
    batching: 'adaptive: batchable=True, max_batch_size 16, max_latency_ms 1000',
    ports: 1,
    command: (python, [port]) => ({
      cmd: python,
      args: ['-m', 'bentoml', 'serve', 'bentoml_service:OnnxMlp', '--working-dir', PEERS_DIR].concat([
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ]),
      // No usage tracking (nothing outside is reachable here); its home out of the user's.
      env: { BENTOML_DO_NOT_TRACK: 'true', BENTOML_HOME: join(PEERS_CACHE, 'bentoml-home') },
    }),
    path: '/predict',
    request: 'batchOfOne',
    response: 'list',
    startTimeoutMs: 120_000,
  },
  {
    id: 'ray',
    label: 'Ray Serve',
    side: 'peer',
    requirements: join(PEERS_DIR, 'requirements-ray.txt'),
    packages: ['ray'],
    batching: '@serve.batch max_batch_size 16, batch_wait_timeout_s 0.002; max_ongoing_requests 32',
    ports: 1,
    command: (python, [port]) => ({ cmd: python, args: [py('ray_serve_app.py'), String(port)] }),
    path: '/',
    request: 'object',
    response: 'object',
    startTimeoutMs: 180_000,
    worker: { label: 'proxy + replica', match: /^ray::(ProxyActor|ServeReplica)/ },
  },
  {
    id: 'kserve',
    label: 'KServe ModelServer',
    side: 'peer',
    requirements: join(PEERS_DIR, 'requirements-kserve.txt'),
    packages: ['kserve'],
    batching: 'none in the Python ModelServer (the Go agent sidecar batches on a cluster)',
    ports: 2,
    command: (python, [port, grpc]) => ({ cmd: python, args: [py('kserve_model.py'), String(port), String(grpc)] }),
    path: '/v1/models/onnx-mlp:predict',
    request: 'kserveV1',
    response: 'kserveV1',
    startTimeoutMs: 120_000,
  },
  {
    id: 'litserve',
    label: 'LitServe',
    side: 'peer',
    requirements: join(PEERS_DIR, 'requirements-litserve.txt'),
    packages: ['litserve'],
    batching: 'max_batch_size 16, batch_timeout 0.002',
    ports: 1,
    command: (python, [port]) => ({ cmd: python, args: [py('litserve_api.py'), String(port)] }),
    path: '/predict',
    request: 'object',
    response: 'object',
    startTimeoutMs: 120_000,
  },
  {
    id: 'pytriton',
    label: 'PyTriton (Triton)',
    side: 'peer',
    requirements: join(PEERS_DIR, 'requirements-pytriton.txt'),
    packages: ['nvidia-pytriton', 'numpy'],
    batching: 'dynamic batcher: max_batch_size 16, max_queue_delay 2000 us',
    ports: 3,
    command: (python, ports) => ({
      cmd: python,
      args: [py('pytriton_model.py'), ...ports.map(String)],
      // Triton's Python backend stub links libpython3.11.so by soname; without this it finds the
      // system's (a different 3.11 patch release) under the interpreter's standard library.
      env: { LD_LIBRARY_PATH: [pythonLibDir(), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
    }),
    path: '/v2/models/onnx_mlp/infer',
    request: 'v2',
    response: 'v2',
    startTimeoutMs: 180_000,
    unavailable: () =>
      process.arch === 'x64' ? undefined : `its Triton binary is built for x86_64, not ${process.arch}`,
  },
];
