// The local environment's cold starts (cortex deploy: a supervisor and its gateway on this
// machine), with a private $CORTEX_HOME, gateway port and dependency cache (test/helpers/local.ts):
//   - deploy to first answer, dependency cache empty (pip installs: once, the ONNX model only);
//   - deploy to first answer, dependencies cached (the API deleted and deployed again);
//   - replica restart to first answer: its process killed, the supervisor starts another after
//     its first crash delay (0.5 s, cli/local/api-runner.ts).
// There is no scale to zero locally: waking from zero is the cluster's (cold-start/cluster.ts).
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { alive, localEnv, type LocalEnv } from '../../test/helpers/local.ts';
import type { Fixture, Sample } from './stats.ts';

/** One API of the fixture alone in a private copy: `cortex deploy` of the fixture would start all of them. */
function projectOf(fixture: Fixture): string {
  const dir = mkdtempSync(path.join(tmpdir(), `cortex-cold-${fixture.api}-`));
  cpSync(fixture.dir, dir, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const apis = parse(readFileSync(path.join(dir, 'cortex.yaml'), 'utf8')) as { name: string }[];
  writeFileSync(path.join(dir, 'cortex.yaml'), stringify(apis.filter((a) => a.name === fixture.api)));
  return dir;
}

/** POSTs `body` to `url` every 20 ms until a 200; the time it came. */
async function firstAnswer(url: string, body: string, timeoutMs = 600_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      if (res.status === 200) return Date.now();
    } catch {
      // the gateway or the replica is not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url} within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

async function deploy(env: LocalEnv, project: string, cacheDir: string): Promise<string> {
  const r = await env.cortex(['deploy', project, '-y', '-o', 'json'], {
    env: { CORTEX_CACHE_DIR: cacheDir },
    timeoutMs: 600_000,
  });
  if (r.code !== 0) throw new Error(`cortex deploy failed (${r.code}): ${r.stderr}`);
  const [result] = JSON.parse(r.stdout) as { endpoint: string }[];
  return env.url(result.endpoint);
}

/** The pid of the API's live replica (a killed one's record may still be there). */
function replicaPid(env: LocalEnv, api: string): number {
  const run = path.join(env.home, 'run');
  for (const file of readdirSync(run).filter((f) => f.endsWith('.json'))) {
    const record = JSON.parse(readFileSync(path.join(run, file), 'utf8')) as { api: string; pid: number };
    if (record.api === api && alive(record.pid)) return record.pid;
  }
  throw new Error(`no live replica of ${api} in ${run}`);
}

/** The local samples of every fixture, `repeat` times each (the empty-cache deploy once). */
export async function measureLocal(fixtures: Fixture[], repeat: number, log: (s: string) => void): Promise<Sample[]> {
  const samples: Sample[] = [];
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'cortex-cold-cache-'));
  const env = await localEnv();
  const projects: string[] = [];
  try {
    for (const fixture of fixtures) {
      const project = projectOf(fixture);
      projects.push(project);
      const body = fixture.body;
      const add = (scenario: string, ms: number) => {
        samples.push({ env: 'local', api: fixture.api, scenario, ms });
        log(`  local ${fixture.api} ${scenario}: ${(ms / 1000).toFixed(2)} s`);
      };
      for (let i = 0; i < repeat; i++) {
        const started = Date.now();
        const url = await deploy(env, project, cacheDir);
        add(
          i === 0 ? 'deploy (empty dependency cache)' : 'deploy (dependencies cached)',
          (await firstAnswer(url, body)) - started,
        );
        // once per deploy: the supervisor waits longer after each crash of the same API (0.5 s, 1 s, 2 s...)
        const killed = Date.now();
        process.kill(replicaPid(env, fixture.api), 'SIGKILL');
        add('replica restart (crash)', (await firstAnswer(url, body)) - killed);
        const r = await env.cortex(['delete', fixture.api, '-y']);
        if (r.code !== 0) throw new Error(`cortex delete failed: ${r.stderr}`);
      }
    }
  } finally {
    await env.cleanup();
    rmSync(cacheDir, { recursive: true, force: true });
    for (const p of projects) rmSync(p, { recursive: true, force: true });
  }
  return samples;
}
