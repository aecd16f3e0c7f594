// The container images without a Docker engine: hadolint lints every Dockerfile, and each
// image's entrypoint runs as a process from a folder laid out exactly as the image would be
// (the build context through .dockerignore, COPY destinations, the `cortex` symlink, and
// node_modules from a production-only `npm ci`), so a file the image lacks, a devDependency
// imported at run time or a wrong entrypoint path fails here.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { operatorNodeFlags } from '../../operator/node-flags.ts';
import { rbacManifests } from '../../operator/rbac.ts';
import { DOCKERFILES, lintDockerfiles, repoRoot } from './hadolint.ts';
import { isShared } from '../../operator/shared-modules.ts';
import { layOut, readDockerfile, type Image } from './dockerfile.ts';

const RUNTIME_DOCKERFILES = ['runtime/Dockerfile', 'runtime/Dockerfile.gpu'];
const INSTALL_TIMEOUT_MS = 10 * 60_000;

let dir: string;
let prodModules: string;

/** A folder holding what `image` holds; its paths are the image's under it. */
function imageRoot(image: Image): string {
  const root = path.join(dir, image.file.replaceAll('/', '_'));
  mkdirSync(root, { recursive: true });
  layOut(image, root, prodModules);
  return root;
}

/** The image's PATH (with this test's Node 24 standing in for the image's /usr/local/bin/node). */
function imageEnv(root: string): NodeJS.ProcessEnv {
  return {
    PATH: [path.join(root, 'usr/local/bin'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    HOME: path.join(dir, 'home'),
    NODE_ENV: 'production',
    CORTEX_TERMINATION_LOG: path.join(dir, 'termination-log'),
  };
}

before(
  async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cortex-images-'));
    // the deps stage: `npm ci --omit=dev` from package.json + package-lock.json alone
    const deps = path.join(dir, 'deps');
    mkdirSync(deps);
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(repoRoot, f), path.join(deps, f));
    await execa('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: deps,
      timeout: INSTALL_TIMEOUT_MS,
    });
    prodModules = path.join(deps, 'node_modules');
  },
  { timeout: INSTALL_TIMEOUT_MS },
);

after(() => rmSync(dir, { recursive: true, force: true }));

describe('hadolint', () => {
  test(
    'finds nothing in any Dockerfile of the project (npm run lint:docker)',
    { timeout: INSTALL_TIMEOUT_MS },
    async () => {
      const findings = await lintDockerfiles();
      assert.deepEqual(
        findings.map((f) => `${f.file}:${f.line} ${f.code} ${f.message}`),
        [],
      );
    },
  );

  test(
    'with the project settings still reports a bad Dockerfile (an untagged base, root as the last USER)',
    { timeout: INSTALL_TIMEOUT_MS },
    async () => {
      const bad = path.join(dir, 'Dockerfile.bad');
      writeFileSync(bad, 'FROM node\nRUN apt-get update && apt-get install -y curl\nUSER root\n');
      const codes = (await lintDockerfiles([bad])).map((f) => f.code);
      for (const code of ['DL3006', 'DL3015', 'DL3002'])
        assert.ok(codes.includes(code), `${code} in ${codes.join(', ')}`);
      assert.ok(!codes.includes('DL3008'), 'DL3008 (unpinned apt packages) is the one rule switched off');
    },
  );

  test('every Dockerfile in the repository is on the list it lints', () => {
    const found: string[] = [];
    const walk = (rel: string) => {
      for (const e of readdirSync(path.join(repoRoot, rel), { withFileTypes: true })) {
        if (['node_modules', '.git'].includes(e.name)) continue;
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(p);
        else if (/^Dockerfile(\..+)?$/.test(e.name)) found.push(p);
      }
    };
    walk('');
    assert.deepEqual(found.sort(), [...DOCKERFILES].sort());
  });
});

describe('the images', () => {
  test(
    'Node 24 LTS (slim Debian, or copied onto a CUDA runtime base), ' +
      'a numeric non-root user, production dependencies only',
    () => {
      for (const file of DOCKERFILES) {
        const image = readDockerfile(file);
        const node24 = /^node:24-[a-z]+-slim$/;
        if (file.endsWith('.gpu')) {
          assert.match(image.base, /^nvidia\/cuda:\d+\.\d+\.\d+-(cudnn-)?runtime-ubuntu\d+\.\d+$/, file);
          const fromNode = image.copies.find((c) => c.sources.includes('/usr/local/bin/node'));
          assert.ok(
            fromNode?.from && node24.test(image.stages[fromNode.from]),
            `${file}: node comes from a node:24 slim stage`,
          );
        } else {
          assert.match(image.base, node24, file);
        }
        assert.match(
          image.user ?? '',
          /^[1-9]\d*:[1-9]\d*$/,
          `${file}: USER uid:gid, not root, numeric for runAsNonRoot`,
        );
        const deps = image.copies.find((c) => c.sources.some((s) => s.endsWith('node_modules')));
        assert.ok(deps?.from, `${file}: node_modules from a build stage`);
        assert.match(
          readFileSync(path.join(repoRoot, file), 'utf8'),
          /npm ci --omit=dev/,
          `${file}: production dependencies only`,
        );
      }
      for (const file of RUNTIME_DOCKERFILES) {
        const install = readDockerfile(file).runs.find((r) => r.includes('apt-get install')) ?? '';
        for (const pkg of ['python3', 'python3-venv'])
          assert.match(install, new RegExp(`\\s${pkg}(\\s|$)`), `${file} installs ${pkg}`);
      }
    },
  );

  for (const file of RUNTIME_DOCKERFILES) {
    test(
      `${file}: the entrypoint (cortex serve) serves a Python predictor from what the image holds`,
      { timeout: 120_000 },
      async () => {
        const image = readDockerfile(file);
        assert.deepEqual([image.entrypoint, image.cmd], [['cortex', 'serve'], ['/mnt/project']]);
        const root = imageRoot(image);
        const env = imageEnv(root);
        const cortex = path.join(root, 'usr/local/bin', image.entrypoint[0]);
        const help = await execa(cortex, [image.entrypoint[1], '--help'], { env, cwd: path.join(root, image.workdir) });
        assert.match(help.stdout, /--api <name>/);
        assert.equal(
          (await execa(cortex, ['version'], { env })).stdout.includes(
            JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version,
          ),
          true,
        );

        // a project at the image's CMD path, as when code is baked in
        const project = path.join(root, image.cmd[0]);
        mkdirSync(project, { recursive: true });
        writeFileSync(
          path.join(project, 'cortex.yaml'),
          '- name: echo\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n',
        );
        writeFileSync(
          path.join(project, 'predictor.py'),
          'class PythonPredictor:\n    def __init__(self, config):\n        pass\n\n' +
            '    def predict(self, payload):\n        return {"echo": payload}\n',
        );
        const proc = spawn(cortex, [...image.entrypoint.slice(1), project, '--port', '0', '--host', '127.0.0.1'], {
          env,
          cwd: project,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
        proc.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
        const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
        try {
          const port = await new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`not ready in 60 s:\n${out}`)), 60_000);
            const check = () => {
              const m = /"serving .* on http:\/\/[^:]+:(\d+)/.exec(out);
              if (m && /"message":"[^"]+ is ready"/.test(out)) {
                clearTimeout(timer);
                resolve(Number(m[1]));
              }
            };
            proc.stdout.on('data', check);
            void exited.then((code) => reject(new Error(`exited (${code}) before it was ready:\n${out}`)));
          });
          assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
          const res = await fetch(`http://127.0.0.1:${port}/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"x":1}',
          });
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), { echo: { x: 1 } });
        } finally {
          proc.kill('SIGTERM');
        }
        assert.equal(await exited, 0, `a SIGTERM drains and exits 0:\n${out}`);
      },
    );
  }

  test(
    'operator/Dockerfile: the entrypoint is cortex-operator with the V8 flags of operator/node-flags.ts, and runs',
    { timeout: 60_000 },
    async () => {
      const image = readDockerfile('operator/Dockerfile');
      const [node, ...rest] = image.entrypoint;
      assert.equal(node, 'node');
      assert.deepEqual(rest.slice(0, -1), operatorNodeFlags);
      const root = imageRoot(image);
      const script = path.join(root, rest[rest.length - 1]);
      const env = imageEnv(root);
      const run = (...args: string[]) =>
        execa(process.execPath, [...operatorNodeFlags, script, ...args], { env, cwd: path.join(root, image.workdir) });
      assert.match((await run('--help')).stdout, /--node-pools-configmap/);
      const printed = parseAllDocuments(
        (await run('--print-rbac', '--service-account', 'op', '--node-pools-namespace', 'cortex')).stdout,
      ).map((d) => d.toJS());
      assert.deepEqual(printed, rbacManifests({ namespace: 'cortex', serviceAccount: 'op' }));
      // what the image does not copy is not there: the CLI stays out, and of the runtime all but what it shares
      const top = path.join(root, 'opt/cortex');
      assert.deepEqual(readdirSync(top).sort(), ['node_modules', 'operator', 'package.json', 'runtime']);
      const copied = readdirSync(path.join(top, 'runtime'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(top, path.join(e.parentPath, e.name)));
      assert.deepEqual(
        copied.filter((f) => !isShared(f)),
        [],
        'only the modules operator/shared-modules.ts lists',
      );
    },
  );
});
