// The built-in kinds several parts of the operator and the CLI read or write, named once.
import type { ResourceType } from './client.ts';

export const CONFIG_MAPS: ResourceType = { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps' };
export const PODS: ResourceType = { group: '', version: 'v1', kind: 'Pod', plural: 'pods' };
