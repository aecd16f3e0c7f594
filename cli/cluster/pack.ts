// The project as a cluster deploy ships it: the bundle (cluster/bundle.ts), the value of
// predictor.bundle and the ConfigMaps that hold it.
import type { BundleSpec } from '../../operator/api/v1alpha1/index.ts';
import type { KubeObject } from '../../operator/kube/client.ts';
import type { LoadedProject } from '../config/index.ts';
import { bundleConfigMaps, bundleSpec, packBundle, type Bundle } from './bundle.ts';

export interface PackedProject {
  bundle: Bundle;
  spec: BundleSpec;
  /** Files packed. */
  files: number;
  /** Compressed size in bytes. */
  size: number;
}

export async function packProject(project: Pick<LoadedProject, 'dir' | 'file'>): Promise<PackedProject> {
  const bundle = await packBundle(project.dir, { config: project.file });
  return { bundle, spec: bundleSpec(bundle), files: bundle.files.length, size: bundle.tgz.length };
}

/** The bundle's ConfigMaps; `namespace` undefined leaves it out (render for kubectl -n / kustomize). */
export function bundleObjects(packed: PackedProject, namespace: string | undefined): KubeObject[] {
  return bundleConfigMaps(packed.bundle, namespace);
}
