// Reaching the cluster of a kubernetes environment: its kubeconfig and context, a JSON client,
// and errors that say which environment, context and server failed and what to do.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, KubeError } from '../../operator/kube/client.ts';
import { PLURAL, GROUP } from '../../operator/api/v1alpha1/index.ts';
import type { ClusterEnvironment } from '../environments.ts';
import { CliError, ExitCode } from '../errors.ts';

/** The field manager of every object the CLI writes (visible in managedFields). */
export const FIELD_MANAGER = 'cortex-cli';

export interface Connection {
  env: ClusterEnvironment;
  client: KubeClient;
  namespace: string;
  context: string;
  server: string;
  /** The kubeconfig file in use (for the kubectl lines the CLI prints). */
  kubeconfig: string;
}

/** The kubeconfig file an environment reads: its own, else $KUBECONFIG's first, else ~/.kube/config. */
export function kubeconfigPath(env: Pick<ClusterEnvironment, 'kubeconfig'>): string {
  if (env.kubeconfig) return path.resolve(env.kubeconfig.replace(/^~(?=$|\/)/, os.homedir()));
  const fromEnv = process.env.KUBECONFIG?.split(path.delimiter).find((p) => p !== '');
  return fromEnv ?? path.join(os.homedir(), '.kube', 'config');
}

/** Loads the kubeconfig and selects the context; throws a CliError that says how to fix it. */
export function loadKubeConfig(env: Pick<ClusterEnvironment, 'name' | 'kubeconfig' | 'context'>): {
  kc: KubeConfig;
  file: string;
} {
  const file = kubeconfigPath(env);
  if (!existsSync(file)) {
    throw new CliError(
      `environment ${env.name}: no kubeconfig at ${file}; ` +
        `point the environment at one with: cortex env configure ${env.name} --kubeconfig <file>`,
      ExitCode.Usage,
    );
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (error) {
    throw new CliError(
      `environment ${env.name}: cannot read the kubeconfig ${file}: ${(error as Error).message}`,
      ExitCode.Usage,
    );
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (env.context !== undefined) {
    if (!contexts.includes(env.context)) {
      throw new CliError(
        `environment ${env.name}: the kubeconfig ${file} has no context "${env.context}"; ` +
          `its contexts: ${contexts.join(', ') || 'none'} ` +
          `(fix with: cortex env configure ${env.name} --context <context>)`,
        ExitCode.Usage,
      );
    }
    kc.setCurrentContext(env.context);
  } else if (!kc.getCurrentContext()) {
    throw new CliError(
      `environment ${env.name}: the kubeconfig ${file} has no current context; ` +
        `choose one with: cortex env configure ${env.name} --context <context>`,
      ExitCode.Usage,
    );
  }
  if (!kc.getCurrentCluster())
    throw new CliError(
      `environment ${env.name}: context ${kc.getCurrentContext()} of ${file} names no cluster`,
      ExitCode.Usage,
    );
  return { kc, file };
}

export function connect(env: ClusterEnvironment): Connection {
  const { kc, file } = loadKubeConfig(env);
  return {
    env,
    client: new KubeClient(kc),
    namespace: env.namespace,
    context: kc.getCurrentContext(),
    server: kc.getCurrentCluster()!.server,
    kubeconfig: file,
  };
}

/** What went wrong talking to the cluster, as something the user can act on. */
export function explain(conn: Connection, error: unknown, doing: string): CliError {
  const where = `environment ${conn.env.name} (context ${conn.context}, ${conn.server})`;
  if (error instanceof CliError) return error;
  if (error instanceof KubeError) {
    if (error.code === 401)
      return new CliError(
        `${doing}: the cluster of ${where} did not accept the kubeconfig's credentials (401); ` +
          'log in again or refresh them',
        ExitCode.Failed,
      );
    if (error.code === 403)
      return new CliError(
        `${doing}: not allowed in namespace ${conn.namespace} of ${where}: ${error.serverMessage}; ` +
          "ask a cluster admin for Cortex's user role there (the chart's ClusterRole <release>-user: " +
          `kubectl create rolebinding <you>-cortex -n ${conn.namespace} --clusterrole=cortex-user --user=<you>) ` +
          `or choose another namespace with cortex env configure ${conn.env.name} --namespace <ns>`,
        ExitCode.Failed,
      );
    if (
      error.code === 404 &&
      error.message.includes(`/apis/${GROUP}/`) &&
      error.serverMessage.includes('the server could not find the requested resource')
    ) {
      return new CliError(
        `${doing}: Cortex is not installed in the cluster of ${where} (no ${PLURAL}.${GROUP} resource); ` +
          'install it with: helm install cortex charts/cortex --namespace cortex-system --create-namespace ' +
          '(docs/install.md)',
        ExitCode.Failed,
      );
    }
    return new CliError(`${doing}: ${error.serverMessage}`, ExitCode.Failed);
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(
    `${doing}: cannot reach the cluster of ${where}: ${detail}; ` +
      'check that it runs and that the kubeconfig points at it',
    ExitCode.Failed,
  );
}

/** Runs `fn`, turning Kubernetes and network errors into CliErrors about `doing`. */
export async function talk<T>(conn: Connection, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw explain(conn, error, doing);
  }
}
