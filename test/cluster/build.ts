// Builds (once) every binary the test cluster runs and caches it by Kubernetes version under
// ~/.cache/cortex-test-cluster/<version>/bin/:
// - kube-apiserver, kube-controller-manager, kube-scheduler and etcd from a throwaway Go module
//   that requires k8s.io/kubernetes and replaces each of its staging modules with the matching
//   v0.<minor>.<patch> release (k8s.io/kubernetes's own go.mod points them at ./staging);
//   etcd is the go.etcd.io/etcd/server/v3 release that Kubernetes version itself requires;
// - kwok and helm with `go install`;
// - kubectl only when the one on PATH is missing or older than 1.32.
// Go's module and build caches (GOMODCACHE, GOCACHE) make a second build after a version bump cheap.
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withLock } from './lock.ts';
import {
  binDir,
  cacheRoot,
  HELM_KUBE_MINOR,
  HELM_VERSION,
  KUBERNETES_VERSION,
  KWOK_VERSION,
  MIN_KUBECTL_MINOR,
  moduleDir,
} from './paths.ts';

export interface Binaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  etcd: string;
  kwok: string;
  helm: string;
  kubectl: string;
}

export type Log = (msg: string) => void;

export const defaultLog: Log = (msg) => process.stderr.write(`[cluster] ${msg}\n`);

const KUBE_COMMANDS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const MIN_GO = [1, 26];

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function goEnv(): Record<string, string> {
  return { CGO_ENABLED: '0', GO111MODULE: 'on', GOFLAGS: '-buildvcs=false', GOTOOLCHAIN: 'local' };
}

/** Runs a step, printing what it is, a heartbeat each minute, and how long it took. */
async function step<T>(log: Log, what: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  log(`${what}...`);
  const timer = setInterval(() => log(`  still ${what} (${seconds(Date.now() - start)})`), 60_000);
  try {
    const result = await fn();
    log(`${what}: done in ${seconds(Date.now() - start)}`);
    return result;
  } finally {
    clearInterval(timer);
  }
}

async function go(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const r = await execa('go', args, { cwd, env: { ...goEnv(), ...env }, reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`go ${args.join(' ')} failed (in ${cwd}):\n${r.all}`);
  return r.stdout;
}

/** The k8s.io/* modules k8s.io/kubernetes's go.mod points at ./staging/src, and its `go` line. */
async function kubernetesGoMod(version: string): Promise<{ staging: string[]; goLine: string }> {
  const out = await go(['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], tmpdir());
  const info = JSON.parse(out) as { GoMod?: string; Error?: string };
  if (!info.GoMod) throw new Error(`go mod download k8s.io/kubernetes@${version}: ${info.Error ?? 'no go.mod'}`);
  const mods = [...readFileSync(info.GoMod, 'utf8').matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map(
    (m) => m[1],
  );
  if (mods.length < 20) throw new Error(`expected the staging replaces in ${info.GoMod}, found ${mods.length}`);
  const goLine = /^go\s+(\S+)/m.exec(readFileSync(info.GoMod, 'utf8'))?.[1] ?? '1.26.0';
  return { staging: mods, goLine };
}

export function ldflags(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    );
  }
  return flags.join(' ');
}

/** As helm's Makefile: its version, and the Kubernetes version `helm template`/`helm lint` assume. */
function helmLdflags(): string {
  const flags = [
    '-s',
    '-w',
    `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
    '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
  ];
  for (const pkg of ['helm.sh/helm/v3/pkg/chartutil', 'helm.sh/helm/v3/pkg/lint/rules']) {
    flags.push(`-X ${pkg}.k8sVersionMajor=1`, `-X ${pkg}.k8sVersionMinor=${HELM_KUBE_MINOR}`);
  }
  return flags.join(' ');
}

/** Writes go.mod/tools.go and resolves go.sum, unless the same module was prepared before. */
async function prepareModule(log: Log, version: string): Promise<string> {
  const dir = moduleDir(version);
  mkdirSync(dir, { recursive: true });
  const { staging, goLine } = await step(log, `reading the staging modules of k8s.io/kubernetes@${version}`, () =>
    kubernetesGoMod(version),
  );
  const stagingVersion = version.replace(/^v1\./, 'v0.');
  const gomod = [
    'module cortex-test-cluster-build',
    '',
    `go ${goLine}`,
    '',
    `require k8s.io/kubernetes ${version}`,
    '',
    'replace (',
    ...staging.map((m) => `\t${m} => ${m} ${stagingVersion}`),
    ')',
    '',
  ].join('\n');
  const tools = [
    '//go:build tools',
    '',
    'package tools',
    '',
    'import (',
    '\t_ "go.etcd.io/etcd/server/v3"',
    ...[...KUBE_COMMANDS, 'kubectl'].map((c) => `\t_ "k8s.io/kubernetes/cmd/${c}"`),
    ')',
    '',
  ].join('\n');
  const stamp = path.join(dir, 'prepared');
  const wanted = gomod + tools;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted && existsSync(path.join(dir, 'go.sum'))) return dir;
  writeFileSync(path.join(dir, 'go.mod'), gomod);
  writeFileSync(path.join(dir, 'tools.go'), tools);
  await step(log, `resolving and downloading modules (go mod tidy, ${staging.length} staging replaces)`, () =>
    go(['mod', 'tidy'], dir),
  );
  writeFileSync(stamp, wanted);
  return dir;
}

/** Builds `pkgs` (main packages) into `out` atomically: a temp dir, then renames. */
async function goBuild(dir: string, out: Record<string, string>, pkgs: string[], flags: string[]): Promise<void> {
  const tmp = path.join(path.dirname(Object.values(out)[0]), `.build-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  try {
    await go(['build', '-trimpath', ...flags, '-o', tmp + '/', ...pkgs], dir);
    for (const [name, dest] of Object.entries(out)) renameSync(path.join(tmp, name), dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function goInstall(log: Log, pkg: string, dest: string, flags: string[] = []): Promise<void> {
  const tmp = `${dest}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    await step(log, `building ${path.basename(dest)} (go install ${pkg})`, () =>
      go(['install', '-trimpath', ...flags, pkg], cacheRoot(), { GOBIN: tmp }),
    );
    renameSync(path.join(tmp, path.basename(pkg.split('@')[0])), dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Kubernetes v1.37 needs Go 1.26 (its go.mod's `go` line); the toolchain is never downloaded (GOTOOLCHAIN=local). */
async function checkGo(): Promise<void> {
  const r = await execa('go', ['env', 'GOVERSION'], { reject: false });
  if (r.failed || r.exitCode !== 0)
    throw new Error(
      `Go is needed to build the test cluster (go ${MIN_GO.join('.')} or newer on PATH): ${r.stderr || r.message}`,
    );
  const [major, minor] = r.stdout
    .replace(/^go/, '')
    .split('.')
    .map((n) => parseInt(n, 10));
  if (major < MIN_GO[0] || (major === MIN_GO[0] && minor < MIN_GO[1]))
    throw new Error(
      `${r.stdout} is too old to build Kubernetes ${KUBERNETES_VERSION}: go ${MIN_GO.join('.')} or newer is needed`,
    );
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** kubectl from PATH when it is new enough. */
async function pathKubectl(): Promise<string | undefined> {
  const p = onPath('kubectl');
  if (!p) return undefined;
  const r = await execa(p, ['version', '--client', '-o', 'json'], { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) return undefined;
  try {
    const minor = parseInt((JSON.parse(r.stdout) as { clientVersion: { minor: string } }).clientVersion.minor, 10);
    return minor >= MIN_KUBECTL_MINOR ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Every binary, building what is missing. Safe to call from several processes at once. */
export async function ensureBinaries(log: Log = defaultLog, version = KUBERNETES_VERSION): Promise<Binaries> {
  const bin = binDir(version);
  const b: Binaries = {
    kubeApiserver: path.join(bin, 'kube-apiserver'),
    kubeControllerManager: path.join(bin, 'kube-controller-manager'),
    kubeScheduler: path.join(bin, 'kube-scheduler'),
    etcd: path.join(bin, 'etcd'),
    kwok: path.join(bin, 'kwok'),
    helm: path.join(bin, 'helm'),
    kubectl: (await pathKubectl()) ?? path.join(bin, 'kubectl'),
  };
  const missing = () => Object.values(b).filter((p) => !existsSync(p));
  if (missing().length === 0) return b;
  return withLock(
    path.join(cacheRoot(), version, '.lock'),
    `building binaries for Kubernetes ${version}`,
    log,
    async () => {
      if (missing().length === 0) return b;
      mkdirSync(bin, { recursive: true });
      await checkGo();
      const start = Date.now();
      log(
        `building test-cluster binaries for Kubernetes ${version} into ${bin} (cold: ~11 min on 2 cores, then cached)`,
      );
      const kube: Record<string, string> = {};
      for (const c of KUBE_COMMANDS) if (!existsSync(path.join(bin, c))) kube[c] = path.join(bin, c);
      if (!existsSync(b.kubectl)) kube.kubectl = b.kubectl;
      if (Object.keys(kube).length > 0 || !existsSync(b.etcd)) {
        const dir = await prepareModule(log, version);
        if (Object.keys(kube).length > 0) {
          const names = Object.keys(kube);
          await step(log, `building ${names.join(', ')} ${version}`, () =>
            goBuild(
              dir,
              kube,
              names.map((c) => `k8s.io/kubernetes/cmd/${c}`),
              ['-tags', 'selinux,notest', '-ldflags', ldflags(version)],
            ),
          );
        }
        if (!existsSync(b.etcd)) {
          await step(log, 'building etcd (go.etcd.io/etcd/server/v3, the version Kubernetes requires)', () =>
            goBuild(dir, { server: b.etcd }, ['go.etcd.io/etcd/server/v3'], ['-ldflags', '-s -w']),
          );
        }
      }
      if (!existsSync(b.kwok))
        await goInstall(log, `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`, b.kwok, [
          '-ldflags',
          `-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}`,
        ]);
      if (!existsSync(b.helm))
        await goInstall(log, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`, b.helm, ['-ldflags', helmLdflags()]);
      const left = missing();
      if (left.length > 0) throw new Error(`still missing after the build: ${left.join(', ')}`);
      log(`binaries ready in ${seconds(Date.now() - start)}`);
      return b;
    },
  );
}
