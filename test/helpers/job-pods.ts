// The pods of BatchJobs and TaskJobs on kwok's nodes, with the test as their kubelet. kwok's own
// stages would mark a Job's pod Succeeded as soon as it runs, so a job could never fail, time out
// or be stopped while it runs; the suite gives kwok stages that only make pods Running and delete
// them, and the test runs a pod's `api` container as a local process (its command and env from
// the pod, /mnt/project a folder here), writes what it prints to the log file kwok serves for the
// namespace (the container runtime's CRI format), reports its exit code in the pod's status, and
// stops it (SIGTERM) once the pod is deleted, as the kubelet does.
import { appendFileSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import type { Kubectl } from '../cluster/kubectl.ts';
import { CONTAINER_NAME, PROJECT_DIR } from '../../operator/reconcilers/deployment.ts';
import { cortexBin } from './serve.ts';

/**
 * kwok's --config for the suite: pods become Running/Ready with an IP and are removed once
 * deleted (nothing completes them), and every `api` container in `namespace` logs `logFile`.
 */
export function kwokJobConfig(namespace: string, logFile: string): string {
  const stage = (name: string, selector: string[], next: string[]) =>
    [
      'apiVersion: kwok.x-k8s.io/v1alpha1',
      'kind: Stage',
      `metadata: {name: ${name}}`,
      'spec:',
      '  resourceRef: {apiGroup: v1, kind: Pod}',
      '  selector:',
      '    matchExpressions:',
      ...selector.map((s) => `    - ${s}`),
      '  next:',
      ...next.map((s) => `    ${s}`),
    ].join('\n');
  const running = stage(
    'job-pod-running',
    ["{key: '.metadata.deletionTimestamp', operator: DoesNotExist}", "{key: '.status.podIP', operator: DoesNotExist}"],
    [
      'statusTemplate: |',
      '  {{ $now := Now }}',
      '  phase: Running',
      '  startTime: {{ $now | Quote }}',
      '  hostIP: {{ NodeIPWith .spec.nodeName | Quote }}',
      '  podIP: {{ PodIPWith .spec.nodeName false .metadata.uid .metadata.name .metadata.namespace | Quote }}',
      '  conditions:',
      '  {{ range list "Initialized" "Ready" "ContainersReady" }}',
      '  - {type: {{ . }}, status: "True", lastTransitionTime: {{ $now | Quote }}}',
      '  {{ end }}',
      '  containerStatuses:',
      '  {{ range .spec.containers }}',
      '  - name: {{ .name | Quote }}',
      '    image: {{ .image | Quote }}',
      '    ready: true',
      '    started: true',
      '    restartCount: 0',
      '    state: {running: {startedAt: {{ $now | Quote }}}}',
      '  {{ end }}',
    ],
  );
  const gone = stage(
    'job-pod-deleted',
    ["{key: '.metadata.deletionTimestamp', operator: Exists}"],
    ['finalizers: {empty: true}', 'delete: true'],
  );
  const logs = [
    'apiVersion: kwok.x-k8s.io/v1alpha1',
    'kind: ClusterLogs',
    'metadata: {name: job-logs}',
    'spec:',
    `  selector: {matchNamespaces: [${namespace}]}`,
    '  logs:',
    `  - {containers: [${CONTAINER_NAME}], logsFile: ${JSON.stringify(logFile)}, follow: true}`,
  ].join('\n');
  const options = ['apiVersion: config.kwok.x-k8s.io/v1alpha1', 'kind: KwokConfiguration', 'options: {}'].join('\n');
  return [options, running, gone, logs].join('\n---\n') + '\n';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a pod as kubectl prints it, read field by field
type Pod = any;

export interface PodRun {
  proc: ResultPromise;
  /** What it printed, line by line. */
  lines: string[];
  /** The exit code, once its status is written to the pod (null: killed). */
  exited: Promise<number | null>;
}

/**
 * Runs `pod`'s api container here with `project` as /mnt/project (the JSON env variable `envName`
 * has its project_dir rewritten), as the kubelet of the pod's node would.
 */
export function runJobPod(
  kubectl: Kubectl,
  pod: Pod,
  options: { project: string; envName: string; logFile: string },
): PodRun {
  const { name, namespace } = pod.metadata;
  const c = pod.spec.containers.find((x: Pod) => x.name === CONTAINER_NAME);
  const [bin, ...args] = c.command as string[];
  if (bin !== 'cortex') throw new Error(`pod ${name} runs ${bin}, not cortex`);
  const env: Record<string, string> = Object.fromEntries((c.env ?? []).map((e: Pod) => [e.name, String(e.value)]));
  const spec = JSON.parse(env[options.envName]) as { project_dir: string };
  if (spec.project_dir !== PROJECT_DIR) throw new Error(`${options.envName}.project_dir is ${spec.project_dir}`);
  env[options.envName] = JSON.stringify({ ...spec, project_dir: options.project });
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const proc = execa(process.execPath, [cortexBin, ...args], { env, reject: false, all: true, buffer: false });
  const lines: string[] = [];
  let partial = '';
  proc.all?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) {
      lines.push(line);
      appendFileSync(options.logFile, `${new Date().toISOString().replace('Z', '000000Z')} stdout F ${line}\n`);
    }
  });
  // the pod deleted (a stopped job, a deadline): the kubelet stops its container
  const watch = setInterval(() => {
    kubectl(['get', 'pod', name, '-n', namespace, '-o', 'jsonpath={.metadata.deletionTimestamp}']).then(
      (deleting) => deleting !== '' && proc.kill('SIGTERM'),
      () => proc.kill('SIGTERM'),
    );
  }, 500);
  const exited = proc.then(async (r) => {
    clearInterval(watch);
    const code = r.exitCode ?? null;
    const terminated = {
      exitCode: code ?? 137,
      reason: code === 0 ? 'Completed' : 'Error',
      startedAt,
      finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    const status = {
      phase: code === 0 ? 'Succeeded' : 'Failed',
      containerStatuses: [
        { name: CONTAINER_NAME, image: c.image, ready: false, started: false, restartCount: 0, state: { terminated } },
      ],
    };
    const patch = JSON.stringify({ status });
    await kubectl(['patch', 'pod', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', patch]).catch(
      () => undefined, // the pod is gone already
    );
    return code;
  });
  return { proc, lines, exited };
}
