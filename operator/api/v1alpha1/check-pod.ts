// The checks of spec.pod (and of predictor vs pod) that the schema cannot say: the same rules as
// the CRD's CEL rules in pod-types.ts and realtimeapi-types.ts, with messages that name the field
// in the caller's naming (cortex.yaml's snake_case in the CLI).

import { PROXY_CONTAINER_NAME, PROXY_PORTS } from './pod-types.ts';
import type { IssueCollector } from './issues.ts';
import { isPlainObject, valueAt } from './schema-walk.ts';

export function checkPredictorOrPod(spec: unknown, ctx: IssueCollector): void {
  if (!isPlainObject(spec)) return;
  const hasPredictor = spec.predictor !== undefined;
  const hasPod = spec.pod !== undefined;
  if (hasPredictor && hasPod) {
    ctx.add({
      path: ['pod'],
      message:
        `is set together with ${ctx.name(['predictor'])}: ` +
        'an API serves either a predictor class or its own containers',
      fix: `keep one of ${ctx.name(['predictor'])} and ${ctx.name(['pod'])}`,
    });
  } else if (!hasPredictor && !hasPod) {
    ctx.add({
      path: ['predictor'],
      message: `is required (or ${ctx.name(['pod'])}, to serve your own containers)`,
      fix: `add ${ctx.name(['predictor'])} with its type and path, or ${ctx.name(['pod'])} with containers`,
    });
  }
  if (hasPod) checkPod(spec, ctx);
}

function checkPod(spec: Record<string, unknown>, ctx: IssueCollector): void {
  const gpu = valueAt(spec, ['compute', 'gpu']);
  if (typeof gpu === 'number' && gpu > 0) {
    ctx.add({
      path: ['compute', 'gpu'],
      message: `must be 0 with ${ctx.name(['pod'])} (it would give the GPUs to Cortex's proxy)`,
      fix: `request GPUs in the container that uses them: ${ctx.name(['pod', 'containers', '0', 'compute', 'gpu'])}`,
    });
  }
  const port = valueAt(spec, ['pod', 'port']);
  if (port === PROXY_PORTS.traffic || port === PROXY_PORTS.admin) {
    ctx.add({
      path: ['pod', 'port'],
      message:
        `must not be ${port}: ` +
        `Cortex's proxy listens on ${PROXY_PORTS.traffic} and ${PROXY_PORTS.admin} in every replica`,
      fix: 'serve on another port, e.g. 8080, and set it here',
    });
  }
  const containers = valueAt(spec, ['pod', 'containers']);
  if (!Array.isArray(containers)) return;
  const seen = new Map<unknown, number>();
  containers.forEach((container, i) => {
    if (!isPlainObject(container)) return;
    const at = (...f: string[]) => ['pod', 'containers', String(i), ...f];
    const name = container.name;
    if (name === PROXY_CONTAINER_NAME) {
      ctx.add({
        path: at('name'),
        message: `${PROXY_CONTAINER_NAME} is the name of Cortex's proxy container`,
        fix: 'choose another name',
      });
    } else if (typeof name === 'string' && seen.has(name)) {
      ctx.add({
        path: at('name'),
        message: `duplicate container name "${name}" (also container ${seen.get(name)})`,
        fix: 'give each container a different name',
      });
    }
    if (typeof name === 'string' && !seen.has(name)) seen.set(name, i);
    for (const probe of ['readinessProbe', 'livenessProbe', 'preStop']) {
      const value = container[probe];
      if (!isPlainObject(value)) continue;
      const kinds = probe === 'preStop' ? ['httpGet', 'exec'] : ['httpGet', 'tcpSocket', 'exec'];
      const set = kinds.filter((k) => value[k] !== undefined);
      if (set.length !== 1) {
        const names = kinds.map((k) => ctx.name(at(probe, k), at(probe, k)));
        ctx.add({
          path: at(probe),
          message:
            set.length === 0
              ? `needs one of ${names.join(', ')}`
              : `sets ${set.map((k) => ctx.name(at(probe, k), at(probe, k))).join(' and ')}; only one is allowed`,
          fix: `keep exactly one of ${names.join(', ')}`,
        });
      }
    }
    const success = valueAt(container, ['livenessProbe', 'successThreshold']);
    if (typeof success === 'number' && success !== 1) {
      ctx.add({
        path: at('livenessProbe', 'successThreshold'),
        message: `must be 1 for a liveness probe (got ${success}; a Kubernetes rule)`,
        fix: 'remove it or set it to 1',
      });
    }
  });
}
