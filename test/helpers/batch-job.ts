// Runs a BatchAPI job as the local environment does (runtime/batch/job-main.ts, the job runner,
// with its workers as processes of their own), on a throwaway project whose handler.py records
// every batch it started and finished in files, so a test can see what ran, where and how often.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadProject } from '../../cli/config/load.ts';
import type { BatchApiSpec, BatchJobSpec } from '../../operator/api/v1alpha1/index.ts';
import { JOB_ENV, LOG_FILE, RUNNER_FILE, STATUS_FILE, type JobEnv } from '../../runtime/batch/job-keys.ts';
import { repoRoot } from './serve.ts';
import { waitFor } from './wait.ts';

/**
 * handle_batch appends "<batch_id> <pid>" to started, then (unless an item is in config.fail, when
 * it raises) sleeps config.slow seconds and appends {"batch", "items"} to done; on_job_complete
 * appends a line to complete.
 */
export const RECORDING_HANDLER = `import json, os, time

class Handler:
    def __init__(self, config, job_spec):
        self.out, self.slow = config["out"], config.get("slow", 0)
        self.fail = set(config.get("fail", []))
        self.job_id = job_spec["job_id"]

    def handle_batch(self, payload, batch_id):
        with open(os.path.join(self.out, "started"), "a") as f:
            f.write(f"{batch_id} {os.getpid()}\\n")
        if any(i in self.fail for i in payload):
            raise ValueError(f"item in {payload} is bad")
        time.sleep(self.slow)
        with open(os.path.join(self.out, "done"), "a") as f:
            f.write(json.dumps({"batch": batch_id, "items": payload, "job": self.job_id}) + "\\n")

    def on_job_complete(self):
        with open(os.path.join(self.out, "complete"), "a") as f:
            f.write("complete\\n")
`;

/** A project of a BatchAPI named recorder with RECORDING_HANDLER in `dir`; returns its out folder. */
export function writeRecorderProject(dir: string): string {
  mkdirSync(path.join(dir, 'out'), { recursive: true });
  writeFileSync(path.join(dir, 'handler.py'), RECORDING_HANDLER);
  writeFileSync(
    path.join(dir, 'cortex.yaml'),
    '- name: recorder\n  kind: BatchAPI\n  handler:\n    path: handler.py\n',
  );
  return path.join(dir, 'out');
}

export interface BatchRun {
  dir: string;
  out: string;
  runner: ChildProcess;
  /** status.json as last written. */
  status(): Record<string, unknown> & { status?: string; batch_metrics?: Record<string, number> | null };
  /** Waits for the job to end; returns status.json. */
  finished(timeoutMs?: number): Promise<ReturnType<BatchRun['status']>>;
  lines(file: 'started' | 'done' | 'complete'): string[];
  log(): string;
  cleanup(): void;
}

export function startBatchRun(opts: {
  queueUrl: string;
  job: Omit<BatchJobSpec, 'api' | 'config'> & { config?: Record<string, unknown> };
  claimIdleMs?: number;
  /** handler.py's source (default: RECORDING_HANDLER). */
  handler?: string;
}): BatchRun {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-batch-'));
  const out = path.join(dir, 'out');
  const jobDir = path.join(dir, 'job');
  mkdirSync(out);
  mkdirSync(jobDir);
  writeFileSync(path.join(dir, 'handler.py'), opts.handler ?? RECORDING_HANDLER);
  writeFileSync(
    path.join(dir, 'cortex.yaml'),
    '- name: recorder\n  kind: BatchAPI\n  handler:\n    path: handler.py\n',
  );
  const spec = loadProject(dir).jobApis[0].spec as BatchApiSpec;
  const id = `job${Date.now().toString(36)}`;
  const env: JobEnv = {
    queue_url: opts.queueUrl,
    api: 'recorder',
    job_id: id,
    project_dir: dir,
    spec,
    job: { api: 'recorder', ...opts.job, config: { out, ...opts.job.config } },
    job_dir: jobDir,
    ...(opts.claimIdleMs !== undefined ? { claim_idle_ms: opts.claimIdleMs } : {}),
  };
  const runnerFile = path.join(jobDir, RUNNER_FILE);
  writeFileSync(runnerFile, JSON.stringify(env));
  const runner = spawn(process.execPath, [path.join(repoRoot, 'runtime/batch/job-main.ts')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [JOB_ENV]: runnerFile },
  });
  let output = '';
  runner.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  runner.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const run: BatchRun = {
    dir,
    out,
    runner,
    status: () => JSON.parse(read(path.join(jobDir, STATUS_FILE)) || '{}') as ReturnType<BatchRun['status']>,
    async finished(timeoutMs = 60_000) {
      await waitFor(
        'the job to end',
        async () => {
          if (runner.exitCode !== null) return true;
          return false;
        },
        timeoutMs,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\nrunner:\n${output}\njob.log:\n${run.log()}`);
      });
      return run.status();
    },
    lines: (file) => read(path.join(out, file)).split('\n').filter(Boolean),
    log: () => read(path.join(jobDir, LOG_FILE)),
    cleanup() {
      if (runner.exitCode === null) runner.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return run;
}
