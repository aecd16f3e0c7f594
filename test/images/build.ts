// Builds the project's container images on a machine with no image registry: runtime/Dockerfile
// and operator/Dockerfile start FROM node:24-trixie-slim, which cannot be pulled here, so this
// script first makes an equivalent base image locally and passes it as NODE_IMAGE.
//
// How:
//   1. base (localhost/cortex-ts/node-base:24-trixie, skipped when present): a Debian trixie minbase
//      root file system from mmdebstrap (cached as ~/.cache/cortex-images/rootfs-trixie-minbase.tar),
//      `podman import`ed, plus this Node 24 binary (stripped) and npm 11 (the registry's tarball,
//      `npm pack`, cached beside it), the `node` user (uid 1000), the npm/npx links and Debian's
//      docker-clean apt settings the official image has. What the Dockerfiles rely on: apt-get,
//      groupadd/useradd (passwd), sh, coreutils, tar, node and npm on the PATH.
//   2. `podman build --isolation chroot --network host` of each Dockerfile from the repository root
//      (crun cannot run containers on this kernel; chroot isolation can).
//   3. Prints each step's time and each image's size.
// runtime/Dockerfile.gpu starts FROM an NVIDIA CUDA runtime image, which cannot be pulled here either:
// its `gpu` entry is built with CUDA_IMAGE set to the plain Debian trixie minbase (STAND_INS), so the
// Dockerfile's steps (apt-get, the cortex user, node copied from the node stage) are built and run
// for real, but without the CUDA and cuDNN libraries. Its size says nothing about the real image's.
// A TLS-intercepting proxy: the host's $NODE_EXTRA_CA_CERTS file is mounted read-only into each RUN
// (at /run/cortex-host-ca.crt) and NODE_EXTRA_CA_CERTS passed as a build argument (the deps stages
// declare it for npm ci), so it is never baked into an image.
//
//   npx node test/images/build.ts [runtime|operator|gpu|all]     (default: all = runtime and operator)

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BASE_IMAGE = 'localhost/cortex-ts/node-base:24-trixie';
const ROOTFS_IMAGE = 'localhost/cortex-ts/debian-minbase:trixie';
const NPM_SPEC = 'npm@11';
const cacheDir = process.env.CORTEX_IMAGES_CACHE ?? path.join(homedir(), '.cache', 'cortex-images');

export const IMAGES = {
  runtime: { dockerfile: 'runtime/Dockerfile', tag: 'cortex-ts/runtime:0.1.0' },
  operator: { dockerfile: 'operator/Dockerfile', tag: 'cortex-ts/operator:0.1.0' },
  gpu: { dockerfile: 'runtime/Dockerfile.gpu', tag: 'cortex-ts/runtime:0.1.0-gpu' },
} as const;
export type ImageName = keyof typeof IMAGES;

/**
 * Base images of IMAGES that no registry here can give, and what stands in for them (a build
 * argument of the Dockerfile → a local image). The CUDA base of runtime/Dockerfile.gpu is
 * replaced by the Debian minbase, without CUDA libraries.
 */
export const STAND_INS: Partial<Record<ImageName, { arg: string; replaces: string; image: string }>> = {
  gpu: { arg: 'CUDA_IMAGE', replaces: 'nvidia/cuda (CUDA and cuDNN runtime)', image: ROOTFS_IMAGE },
};

export interface StepResult {
  step: string;
  seconds: number;
  /** The image's size in bytes (podman's count), when the step made one. */
  bytes?: number;
}

type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`${line}\n`);

async function imageExists(ref: string): Promise<boolean> {
  const r = await execa('podman', ['image', 'exists', ref], { reject: false });
  return r.exitCode === 0;
}

/** The image's size in bytes as `podman images` reports it. */
export async function imageSize(ref: string): Promise<number> {
  const r = await execa('podman', ['image', 'inspect', '--format', '{{.Size}}', ref]);
  return Number(r.stdout.trim());
}

async function timed(step: string, fn: () => Promise<string | undefined>): Promise<StepResult> {
  const start = performance.now();
  const ref = await fn();
  const seconds = (performance.now() - start) / 1000;
  return ref === undefined ? { step, seconds } : { step, seconds, bytes: await imageSize(ref) };
}

/** The Debian trixie minbase root file system tarball, made with mmdebstrap once and cached. */
async function ensureRootfs(log: Log): Promise<string> {
  const tar = path.join(cacheDir, 'rootfs-trixie-minbase.tar');
  if (existsSync(tar)) return tar;
  mkdirSync(cacheDir, { recursive: true });
  const building = path.join(cacheDir, `rootfs-trixie-minbase.building-${process.pid}.tar`); // mmdebstrap: .tar
  log(`mmdebstrap --variant=minbase trixie -> ${tar}`);
  await execa('mmdebstrap', ['--variant=minbase', 'trixie', building], { stdout: 'ignore', stderr: 'pipe' });
  renameSync(building, tar);
  return tar;
}

/** npm's package tarball from the registry (`npm pack`), cached. */
async function ensureNpmTarball(log: Log): Promise<string> {
  const dir = path.join(cacheDir, 'npm');
  mkdirSync(dir, { recursive: true });
  log(`npm pack ${NPM_SPEC} -> ${dir}`);
  const r = await execa('npm', ['pack', NPM_SPEC, '--pack-destination', dir, '--silent'], { cwd: dir });
  return path.join(dir, r.stdout.trim().split('\n').at(-1) ?? '');
}

const BASE_CONTAINERFILE = (nodeVersion: string) => `\
FROM ${ROOTFS_IMAGE}
ENV NODE_VERSION=${nodeVersion}
COPY node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
COPY docker-clean /etc/apt/apt.conf.d/docker-clean
RUN groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
CMD ["node"]
`;

// Debian's official images' apt settings (debuerreotype): no package caches nor .deb files left in
// a layer after `apt-get install` (without them the runtime's apt layer is ~100 MB bigger).
const APT_CLEAN = 'rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin';
const APT_DOCKER_CLEAN = `\
DPkg::Post-Invoke { "${APT_CLEAN} || true"; };
APT::Update::Post-Invoke { "${APT_CLEAN} || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
`;

/** Imports the minbase root file system as ROOTFS_IMAGE (again when `always`, else when missing). */
async function ensureRootfsImage(log: Log, always: boolean): Promise<StepResult[]> {
  if (!always && (await imageExists(ROOTFS_IMAGE))) return [];
  const steps: StepResult[] = [];
  let tar = '';
  steps.push(await timed('rootfs (mmdebstrap, cached)', async () => void (tar = await ensureRootfs(log))));
  steps.push(
    await timed('podman import', async () => {
      await execa('podman', ['import', '--change', 'CMD ["bash"]', tar, ROOTFS_IMAGE], { stdout: 'ignore' });
      return ROOTFS_IMAGE;
    }),
  );
  return steps;
}

/** Makes BASE_IMAGE (node:24-trixie-slim's stand-in) unless it exists; its steps' times. */
export async function ensureBaseImage(log: Log = defaultLog): Promise<StepResult[]> {
  if (await imageExists(BASE_IMAGE)) {
    log(`${BASE_IMAGE}: present`);
    return [];
  }
  if (process.versions.node.split('.')[0] !== '24') throw new Error(`run with Node 24, not ${process.version}`);
  const steps = await ensureRootfsImage(log, true);
  const context = mkdtempSync(path.join(tmpdir(), 'cortex-node-base-'));
  try {
    steps.push(
      await timed('node (strip) + npm (pack)', async () => {
        copyFileSync(process.execPath, path.join(context, 'node'));
        await execa('strip', [path.join(context, 'node')]);
        const tgz = await ensureNpmTarball(log);
        mkdirSync(path.join(context, 'npm'));
        await execa('tar', ['-xzf', tgz, '-C', path.join(context, 'npm'), '--strip-components=1']);
        writeFileSync(path.join(context, 'Containerfile'), BASE_CONTAINERFILE(process.versions.node));
        writeFileSync(path.join(context, 'docker-clean'), APT_DOCKER_CLEAN);
        return undefined;
      }),
    );
    steps.push(
      await timed(`podman build ${BASE_IMAGE}`, async () => {
        await podmanBuild(path.join(context, 'Containerfile'), BASE_IMAGE, context, [], log);
        return BASE_IMAGE;
      }),
    );
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return steps;
}

export async function podmanBuild(
  file: string,
  tag: string,
  context: string,
  extra: string[],
  log: Log,
): Promise<void> {
  log(`podman build -f ${path.relative(repoRoot, file) || file} -t ${tag}`);
  const args = ['build', '--isolation', 'chroot', '--network', 'host', '-f', file, '-t', tag, ...extra, context];
  const build = execa('podman', args, { all: true, reject: false });
  build.all?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  const r = await build;
  if (r.exitCode !== 0) throw new Error(`podman build ${tag} failed (exit ${r.exitCode})`);
}

/** Builds one of IMAGES FROM BASE_IMAGE (made first when missing). */
export async function buildImage(name: ImageName, log: Log = defaultLog): Promise<StepResult[]> {
  const steps = await ensureBaseImage(log);
  const { dockerfile, tag } = IMAGES[name];
  const extra = ['--build-arg', `NODE_IMAGE=${BASE_IMAGE}`];
  const standIn = STAND_INS[name];
  if (standIn) {
    if (standIn.image === ROOTFS_IMAGE) steps.push(...(await ensureRootfsImage(log, false)));
    log(`${tag}: ${standIn.arg}=${standIn.image} stands in for ${standIn.replaces}, which cannot be pulled here`);
    extra.push('--build-arg', `${standIn.arg}=${standIn.image}`);
  }
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  // One file at a path of its own: mounted over /etc/ssl/certs, it breaks apt's ca-certificates.
  const mounted = '/run/cortex-host-ca.crt';
  if (ca) extra.push('--build-arg', `NODE_EXTRA_CA_CERTS=${mounted}`, '-v', `${realpathSync(ca)}:${mounted}:ro`);
  steps.push(
    await timed(`podman build ${tag}`, async () => {
      await podmanBuild(path.join(repoRoot, dockerfile), tag, repoRoot, extra, log);
      return tag;
    }),
  );
  return steps;
}

/** Builds the images named (all by default), in order; every step's time and image size. */
export async function buildImages(names: ImageName[] = ['runtime', 'operator'], log: Log = defaultLog) {
  const steps: StepResult[] = [];
  for (const name of names) steps.push(...(await buildImage(name, log)));
  return steps;
}

export function formatSteps(steps: StepResult[]): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  return steps
    .map((s) => `${s.seconds.toFixed(1).padStart(7)} s  ${s.step}${s.bytes ? `  ${mb(s.bytes)}` : ''}`)
    .join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = process.argv[2] ?? 'all';
  if (arg !== 'all' && !(arg in IMAGES)) {
    process.stderr.write('usage: node test/images/build.ts [runtime|operator|gpu|all]\n');
    process.exit(2);
  }
  const steps = await buildImages(arg === 'all' ? undefined : [arg as ImageName]);
  process.stdout.write(`${formatSteps(steps)}\n`);
}
