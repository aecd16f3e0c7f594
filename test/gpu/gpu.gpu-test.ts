// The GPU path proven on a real GPU (issue 20): `cortex serve` hosts a torch MLP that its
// predictor loads onto the GPU in __init__, answers there, and is measured with server-side
// batching on and off, on the GPU and on the CPU; two worker processes share one GPU; a
// predictor that runs out of GPU memory fails clearly, and its replica restarts.
//
// Run with `npm run test:gpu` (test/gpu/run.sh prepares Node, the Python with torch and the
// model), never by `npm test`. Without a GPU everything runs on the CPU and only the assertions
// about the GPU are skipped, each saying so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { localEnv, type LocalEnv } from '../helpers/local.ts';
import { postJson, serve, serveFailure, waitFor, type Served } from '../helpers/serve.ts';
import { closedLoop, type ClosedLoopResult } from './closed-loop.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const python = process.env.CORTEX_PYTHON ?? 'python3';
const CONNECTIONS = 64;
const durationS = Number(process.env.CORTEX_GPU_LOAD_S ?? 10);
const FEATURES = 512;

interface Probe {
  torch: string;
  cuda: boolean;
  gpu?: string;
  totalGiB?: number;
  driver?: string;
}
interface Answer {
  class: number;
  batch_size: number;
  device: string;
  pid: number;
  gpu_bytes: number;
}

function probeTorch(): Probe {
  const code =
    'import json, torch\n' +
    'p = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}\n' +
    'if p["cuda"]:\n' +
    '    d = torch.cuda.get_device_properties(0)\n' +
    '    p.update(gpu=d.name, totalGiB=round(d.total_memory / 2**30, 1))\n' +
    'print(json.dumps(p))\n';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${python} cannot import torch (run test/gpu/run.sh):\n${r.stderr}`);
  const probe = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Probe;
  const smi = spawnSync('nvidia-smi', ['--query-gpu=driver_version', '--format=csv,noheader'], { encoding: 'utf8' });
  if (smi.status === 0) probe.driver = smi.stdout.trim();
  return probe;
}

/** pid → MiB for every process nvidia-smi says holds GPU memory; undefined without nvidia-smi. */
function gpuProcesses(): Map<number, number> | undefined {
  const r = spawnSync('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return undefined;
  const apps = new Map<number, number>();
  for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
    const [pid, mib] = line.split(',').map((s) => Number(s.trim()));
    apps.set(pid, mib);
  }
  return apps;
}

/** Seeded inputs, so every run (and the CPU reference) sees the same ones. */
function inputs(n: number): number[][] {
  let s = 42;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Array.from({ length: n }, () => Array.from({ length: FEATURES }, () => Math.round(next() * 1000) / 1000));
}

interface ApiShape {
  device: 'cuda' | 'cpu';
  batching: boolean;
  processes?: number;
  config?: Record<string, unknown>;
}

function cortexYaml(name: string, shape: ApiShape): string {
  const config = { device: shape.device, ...shape.config };
  return [
    `- name: ${name}`,
    '  kind: RealtimeAPI',
    '  predictor:',
    '    type: python',
    '    path: predictor.py',
    `    processes_per_replica: ${shape.processes ?? 1}`,
    '    threads_per_process: 1',
    ...(shape.batching ? ['    server_side_batching:', '      max_batch_size: 32', '      batch_interval: 5ms'] : []),
    `    config: ${JSON.stringify(config)}`,
    '  compute:',
    `    gpu: ${shape.device === 'cuda' ? 1 : 0}`,
    '',
  ].join('\n');
}

describe('the GPU path', { concurrency: false }, () => {
  const probe = probeTorch();
  const noGpu = probe.cuda ? false : 'no GPU: torch.cuda.is_available() is False here; GPU assertions skipped';
  const device = probe.cuda ? 'cuda' : 'cpu';
  const samples = inputs(64);
  const results: { name: string; device: string; batching: boolean; processes: number; load: ClosedLoopResult }[] = [];
  let work: string;
  let reference: number[];
  const servers: Served[] = [];

  /** A project folder for one API shape: the predictor, the model and its cortex.yaml. */
  const project = (name: string, shape: ApiShape): string => {
    const dir = path.join(work, name);
    mkdirSync(dir);
    for (const f of ['predictor.py', 'make_model.py', 'model.pt']) cpSync(path.join(work, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'cortex.yaml'), cortexYaml(name, shape));
    return dir;
  };
  const start = async (name: string, shape: ApiShape): Promise<Served> => {
    const s = await serve(project(name, shape), { env: { CORTEX_PYTHON: python }, args: ['--predict-timeout', '120'] });
    servers.push(s);
    return s;
  };

  before(() => {
    console.log(`# torch ${probe.torch}; ${probe.cuda ? `GPU: ${probe.gpu}, ${probe.totalGiB} GiB` : String(noGpu)}`);
    work = mkdtempSync(path.join(tmpdir(), 'cortex-gpu-'));
    cpSync(path.join(here, 'project'), work, { recursive: true });
    writeFileSync(path.join(work, 'inputs.json'), JSON.stringify(samples));
    const made = spawnSync(python, ['make_model.py', 'model.pt', '--check', 'inputs.json'], {
      cwd: work,
      encoding: 'utf8',
    });
    assert.equal(made.status, 0, made.stderr);
    reference = JSON.parse(made.stdout.trim().split('\n').at(-1)!) as number[];
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    const out = process.env.CORTEX_GPU_RESULTS;
    if (out !== undefined && results.length > 0) {
      writeFileSync(
        out,
        JSON.stringify(
          { date: new Date().toISOString(), probe, connections: CONNECTIONS, durationS, results },
          null,
          2,
        ),
      );
    }
    console.log(table(results));
    rmSync(work, { recursive: true, force: true });
  });

  test(`the predictor loads the model onto the ${device} in __init__ and answers as the CPU does`, async (t) => {
    const s = await start('placed', { device, batching: false });
    const answers: Answer[] = [];
    for (const features of samples) {
      const r = await postJson(`${s.url}/`, { features });
      assert.equal(r.status, 200, await r.clone().text());
      answers.push((await r.json()) as Answer);
    }
    const agree = answers.filter((a, i) => a.class === reference[i]).length;
    assert.ok(agree >= samples.length * 0.95, `only ${agree} of ${samples.length} classes match the CPU's`);
    await t.test('torch reports the GPU, and the worker process holds GPU memory', { skip: noGpu }, () => {
      assert.equal(answers[0].device, 'cuda:0');
      assert.ok(answers[0].gpu_bytes > 0, 'torch holds no GPU memory in the worker');
      const apps = gpuProcesses();
      assert.ok(apps !== undefined, 'nvidia-smi is missing');
      const mib = apps.get(answers[0].pid);
      console.log(`# nvidia-smi: worker ${answers[0].pid} holds ${mib ?? '?'} MiB; all: ${JSON.stringify([...apps])}`);
      // Inside some VMs nvidia-smi sees no processes at all; then torch's own figure must do.
      if (apps.size > 0) assert.ok(mib !== undefined && mib > 0, `nvidia-smi does not list worker ${answers[0].pid}`);
    });
    await s.stop();
  });

  const shapes: { name: string; shape: ApiShape; gpuOnly?: boolean }[] = [
    { name: 'gpu-unbatched', shape: { device: 'cuda', batching: false }, gpuOnly: true },
    { name: 'gpu-batched', shape: { device: 'cuda', batching: true }, gpuOnly: true },
    { name: 'gpu-2-processes', shape: { device: 'cuda', batching: true, processes: 2 }, gpuOnly: true },
    { name: 'cpu-unbatched', shape: { device: 'cpu', batching: false } },
    { name: 'cpu-batched', shape: { device: 'cpu', batching: true } },
  ];
  for (const { name, shape, gpuOnly } of shapes) {
    test(
      `${name}: ${CONNECTIONS} clients for ${durationS} s, every answer 200 from the ${shape.device}`,
      { skip: gpuOnly ? noGpu : false, timeout: 300_000 },
      async () => {
        const s = await start(name, shape);
        const body = (i: number) => JSON.stringify({ features: samples[i % samples.length] });
        await closedLoop(`${s.url}/`, body, CONNECTIONS, 2); // warm-up: CUDA kernels, allocator, JIT
        const load = await closedLoop(`${s.url}/`, body, CONNECTIONS, durationS);
        await s.stop();
        results.push({ name, device: shape.device, batching: shape.batching, processes: shape.processes ?? 1, load });
        assert.deepEqual(load.failures, {});
        const sample = load.sample as Answer;
        assert.equal(sample.device, shape.device === 'cuda' ? 'cuda:0' : 'cpu');
        if (shape.batching) assert.ok(sample.batch_size > 1, `batching on, but a batch of ${sample.batch_size}`);
      },
    );
  }

  test('two processes per replica share one GPU: each loads the model there and answers', async (t) => {
    const s = await start('shared', { device, batching: false, processes: 2 });
    const byPid = new Map<number, Answer>();
    await waitFor(
      'answers from both worker processes',
      async () => {
        const batch = await Promise.all(
          Array.from({ length: 8 }, () => postJson(`${s.url}/`, { features: samples[0] }).then((r) => r.json())),
        );
        for (const a of batch as Answer[]) byPid.set(a.pid, a);
        return byPid.size >= 2 ? true : undefined;
      },
      60_000,
    );
    await t.test('both processes hold memory on the one GPU', { skip: noGpu }, () => {
      const apps = gpuProcesses();
      for (const [pid, a] of byPid) {
        assert.equal(a.device, 'cuda:0');
        assert.ok(a.gpu_bytes > 0);
        if (apps !== undefined && apps.size > 0) assert.ok((apps.get(pid) ?? 0) > 0, `nvidia-smi does not list ${pid}`);
      }
    });
    await s.stop();
  });

  test(
    'out of GPU memory in predict: a 500, the error in the logs, and the replica goes on answering',
    { skip: noGpu },
    async () => {
      const s = await start('oom-predict', { device: 'cuda', batching: false });
      const huge = await postJson(`${s.url}/`, { features: samples[0], allocate_gib: (probe.totalGiB ?? 1) * 2 });
      assert.equal(huge.status, 500);
      // The client gets a generic message (exception text can leak data); the log names the error.
      await waitFor('the error in the log', () =>
        /OutOfMemoryError: CUDA out of memory/.test(s.stdout()) ? true : undefined,
      );
      const next = await postJson(`${s.url}/`, { features: samples[0] });
      assert.equal(next.status, 200, await next.clone().text());
      await s.stop();
    },
  );

  test('out of GPU memory in __init__: the replica exits 1 naming the error, promptly', { skip: noGpu }, async () => {
    const started = Date.now();
    const failure = await serveFailure(
      project('oom-init', { device: 'cuda', batching: false, config: { oom_on_init: true } }),
      {
        env: { CORTEX_PYTHON: python },
      },
    );
    assert.equal(failure.code, 1);
    assert.match(failure.out, /predictor failed to initialise: .*CUDA out of memory/);
    assert.match(readFileSync(failure.terminationLog, 'utf8'), /CUDA out of memory/);
    assert.ok(Date.now() - started < 60_000, 'the failed start took over a minute');
  });

  test(
    'a local replica that restarts into out of GPU memory is restarted again, then serves',
    { skip: noGpu },
    async () => {
      let local: LocalEnv | undefined;
      try {
        local = await localEnv();
        const flag = path.join(work, 'oom.flag');
        const dir = project('oom-restart', { device: 'cuda', batching: false, config: { oom_when_flag: flag } });
        const env = { CORTEX_PYTHON: python };
        const deployed = await local.cortex(['deploy', '-y', dir], { env });
        assert.equal(deployed.code, 0, deployed.stderr);
        const get = async () =>
          JSON.parse((await local!.cortex(['get', 'oom-restart', '-o', 'json'], { env })).stdout) as {
            ready: number;
            restarts: number;
            replicas: { pid?: number }[];
          };
        // The next start of the replica runs out of GPU memory (once): kill the running one.
        writeFileSync(flag, '');
        process.kill((await get()).replicas[0].pid!, 'SIGKILL');
        const api = await waitFor(
          'the API to be ready again',
          async () => {
            const got = await get();
            return got.ready > 0 && got.restarts >= 2 ? got : undefined;
          },
          120_000,
        );
        assert.ok(api.restarts >= 2, `restarts: ${api.restarts}`);
        const logs = await local.cortex(['logs', 'oom-restart'], { env, timeoutMs: 20_000 });
        assert.match(logs.stdout, /CUDA out of memory/);
        const r = await postJson(local.url('/oom-restart'), { features: samples[0] });
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal(((await r.json()) as Answer).device, 'cuda:0');
      } finally {
        await local?.cleanup();
      }
    },
  );
});

function table(rows: { name: string; load: ClosedLoopResult }[]): string {
  const lines = ['| API shape | requests/s | p50 ms | p99 ms |', '|---|---|---|---|'];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.load.requestsPerS.toFixed(0)} | ${r.load.p50Ms.toFixed(1)} | ${r.load.p99Ms.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}
