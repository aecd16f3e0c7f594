// What a pod's unpack-bundle init container does, here: the ConfigMaps its projected `bundle`
// volume names are read from the API server (each chunk as the kubelet would write it), and the
// init container's own script (its command, with /mnt/bundle and /mnt/project mapped to local
// folders) joins them, checks the sha256 and unpacks. kwok runs no containers, so tests that start
// a bundle-based pod's command locally unpack its project this way first.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { V1PodSpec } from '@kubernetes/client-node';
import { execa } from 'execa';
import { BUNDLE_DIR, PROJECT_DIR } from '../../operator/reconcilers/deployment.ts';

/** Reads a ConfigMap's binaryData (kubectl get configmap NAME -o json). */
export type ReadConfigMap = (name: string) => Promise<{ binaryData?: Record<string, string> }>;

/** Unpacks the bundle `spec` mounts into `into`/project (returned); throws with the script's output when it fails. */
export async function unpackBundle(spec: V1PodSpec, readConfigMap: ReadConfigMap, into: string): Promise<string> {
  const init = spec.initContainers?.find((c) => c.name === 'unpack-bundle');
  const volume = spec.volumes?.find((v) => v.name === 'bundle');
  if (!init?.command || !volume?.projected?.sources) throw new Error('the pod has no bundle to unpack');
  const bundleDir = path.join(into, 'bundle');
  const projectDir = path.join(into, 'project');
  mkdirSync(bundleDir, { recursive: true });
  mkdirSync(projectDir, { recursive: true });
  for (const source of volume.projected.sources) {
    const cm = source.configMap!;
    const data = (await readConfigMap(cm.name!)).binaryData ?? {};
    for (const item of cm.items ?? []) {
      writeFileSync(path.join(bundleDir, item.path), Buffer.from(data[item.key] ?? '', 'base64'));
    }
  }
  const local = (s: string) => s.replaceAll(BUNDLE_DIR, bundleDir).replaceAll(PROJECT_DIR, projectDir);
  const env = Object.fromEntries((init.env ?? []).map((e) => [e.name, e.value ?? '']));
  // /dev/termination-log is the kubelet's: the script's failure message goes to stdout here
  const [bin, ...args] = init.command.map((a) => local(a).replaceAll('/dev/termination-log', '/dev/stdout'));
  const run = await execa(bin, args, { env, reject: false, all: true });
  if (run.exitCode !== 0) throw new Error(`unpack-bundle failed (${run.exitCode}): ${run.all}`);
  return projectDir;
}
