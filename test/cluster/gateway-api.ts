// The Gateway API's CRDs (gateway.networking.k8s.io, standard channel) for the test cluster, from
// the sigs.k8s.io/gateway-api Go module: the Go module proxy serves the module, whose
// config/crd/standard folder holds the CRD YAMLs a release's standard-install.yaml is made of.
// Cached under the test cluster's cache root like the control plane's binaries.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { defaultLog, type Log } from './build.ts';
import { withLock } from './lock.ts';
import { cacheRoot } from './paths.ts';

/** The Gateway API release whose standard CRDs the route tests install. */
export const GATEWAY_API_VERSION = 'v1.4.1';

/** The folder of the standard-channel CRD YAMLs (downloaded and cached on first use). */
export async function gatewayApiCrdsDir(log: Log = defaultLog, version = GATEWAY_API_VERSION): Promise<string> {
  const root = path.join(cacheRoot(), `gateway-api-${version}`);
  const dir = path.join(root, 'crds');
  if (existsSync(dir)) return dir;
  mkdirSync(root, { recursive: true });
  return withLock(path.join(root, '.lock'), `the Gateway API ${version} CRDs`, log, async () => {
    if (existsSync(dir)) return dir;
    const r = await execa('go', ['mod', 'download', '-json', `sigs.k8s.io/gateway-api@${version}`], {
      cwd: tmpdir(),
      env: { GO111MODULE: 'on', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
      reject: false,
    });
    const info = JSON.parse(r.stdout || '{}') as { Dir?: string; Error?: string };
    if (r.exitCode !== 0 || !info.Dir)
      throw new Error(`go mod download sigs.k8s.io/gateway-api@${version}: ${info.Error ?? r.stderr}`);
    const standard = path.join(info.Dir, 'config', 'crd', 'standard');
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial);
    const files = readdirSync(standard).filter((f) => f.endsWith('.yaml'));
    for (const f of files) copyFileSync(path.join(standard, f), path.join(partial, f));
    renameSync(partial, dir);
    log(`Gateway API ${version}: ${files.length} standard CRDs cached in ${dir}`);
    return dir;
  });
}
