// The API group and version of Cortex's custom resources (kubebuilder's groupversion_info.go).

/** API group of every Cortex custom resource. */
export const GROUP = 'cortex.dev';
/** Version of the RealtimeAPI schema defined in this folder. */
export const VERSION = 'v1alpha1';
/** `apiVersion` as written in manifests. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Kind of a realtime prediction API. */
export const KIND = 'RealtimeAPI';
/** Resource name used in URLs and `kubectl get realtimeapis`. */
export const PLURAL = 'realtimeapis';
/** Singular resource name (`kubectl get realtimeapi`). */
export const SINGULAR = 'realtimeapi';
/** Short names for kubectl. */
export const SHORT_NAMES = ['rapi'];
