// How bundle ConfigMaps are named and marked: written by the CLI (cli/cluster/bundle.ts) and
// read by the operator's bundle garbage collection (bundle.ts, bundle-gc.ts), so both sides
// agree on one definition.

/**
 * Label on every bundle ConfigMap: the first 16 hex digits of its bundle's sha256. The operator
 * lists bundles by it.
 */
export const BUNDLE_LABEL = 'cortex.dev/bundle';
/** Annotation with the bundle's full sha256 (a label value cannot hold 64 characters). */
export const BUNDLE_SHA256_ANNOTATION = 'cortex.dev/bundle-sha256';
/** Annotation "i/n": which chunk of the bundle this ConfigMap holds. */
export const BUNDLE_PART_ANNOTATION = 'cortex.dev/bundle-part';
/** app.kubernetes.io/managed-by of the ConfigMaps: the CLI writes them, not the operator. */
export const BUNDLE_MANAGED_BY = 'cortex';
/** Hex digits of the sha256 in names and in the label: 64 bits, so two bundles of one namespace never collide. */
export const BUNDLE_ID_LENGTH = 16;

/** The short id of a bundle: the start of its sha256. */
export function bundleId(sha256: string): string {
  return sha256.slice(0, BUNDLE_ID_LENGTH);
}

/** Name of chunk `index` (from 0) of the bundle with this sha256: the same content always gets the same names. */
export function bundleConfigMapName(sha256: string, index: number): string {
  return `cortex-bundle-${bundleId(sha256)}-${index}`;
}
