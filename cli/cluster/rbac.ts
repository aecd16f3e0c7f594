// What a person running the cortex CLI against a namespace needs, declared next to the commands
// that need it. The chart renders it as the ClusterRole <release>-user (bind it per namespace
// with a RoleBinding; aggregated into the built-in edit and admin roles by default), and the
// end-to-end test runs every command as a user bound to exactly these rules.
import { CONFIG_MAPS, DEPLOYMENTS, PODS, REALTIME_APIS, SECRETS, SERVICES } from '../../operator/kube/resources.ts';
import { ruleOn, type PolicyRule } from '../../operator/reconcilers/types.ts';
import { TRAFFIC_SPLITTERS } from '../../operator/trafficsplitter-controller.ts';
import { BATCH_APIS, BATCH_JOBS, TASK_APIS, TASK_JOBS } from '../../operator/job-resources.ts';
import { REALTIME_API_RESOURCE, REQUEST_METRICS } from '../../operator/metrics-adapter/request-metrics.ts';

export const cliUserRules: PolicyRule[] = [
  // deploy (server-side apply = patch, dry runs included), get, delete, the wait, env configure's check
  ruleOn(REALTIME_APIS, ['get', 'list', 'watch', 'create', 'patch', 'delete']),
  // deploy uploads bundles (immutable: never updated); delete waits for the API's to be released
  ruleOn(CONFIG_MAPS, ['get', 'list', 'create']),
  // get API shows the pods; logs lists them and reads their logs
  ruleOn(PODS, ['get', 'list', 'watch']),
  ruleOn(PODS, ['get'], { subresource: 'log' }),
  // get API reads the last minutes' figures from the operator's metrics API, through the aggregator
  // (RBAC matches resource/subresource exactly: one entry per metric)
  {
    apiGroups: ['custom.metrics.k8s.io'],
    resources: Object.keys(REQUEST_METRICS).map((m) => `${REALTIME_API_RESOURCE}/${m}`),
    verbs: ['get'],
  },
  // get SPLITTER reads each replica's /metrics (request and error rates) through the pod proxy
  ruleOn(PODS, ['get'], { subresource: 'proxy' }),
  // predict POSTs through the API server's service proxy
  ruleOn(SERVICES, ['get', 'create'], { subresource: 'proxy' }),
  // refresh: a rolling restart, as kubectl rollout restart does it
  ruleOn(DEPLOYMENTS, ['get', 'patch']),
  // deploy applies TrafficSplitters (a weight change is another apply); get and delete them
  ruleOn(TRAFFIC_SPLITTERS, ['get', 'list', 'watch', 'create', 'patch', 'delete']),
  // api-key create/list/revoke: the API's keys Secret (hashes only), read and changed in one write
  ruleOn(SECRETS, ['get', 'create', 'patch']),
  // deploy applies BatchAPIs and TaskAPIs (and lists them for endpoint conflicts), get lists them,
  // delete API deletes one; submit, get API JOB_ID and delete API JOB_ID read them
  ruleOn(BATCH_APIS, ['get', 'list', 'create', 'patch', 'delete']),
  ruleOn(TASK_APIS, ['get', 'list', 'create', 'patch', 'delete']),
  ruleOn(BATCH_JOBS, ['get', 'list', 'create', 'delete']),
  ruleOn(TASK_JOBS, ['get', 'list', 'create', 'delete']),
];
