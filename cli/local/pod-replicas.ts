// What the supervisor does for pod API replicas (pod-serve.ts runs each one): the container
// runner it detected once (passed to every replica as CORTEX_CONTAINER_RUNNER), the port each
// replica's containers listen on, and removing the containers of replicas that are gone (a
// killed replica cannot remove its own; docker's and podman's outlive their client).
//
// Ports: the first replica gets pod.port itself when it is free (a server that hardcodes its port
// then still works with one replica); every other replica, and any replica while pod.port is
// taken (by another replica of this supervisor or any program), a free port of the machine.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describeTried, detectRunnerOnce, RUNNER_ENV, type ContainerRunner } from './runners/runner.ts';

/** Ports claimed by replicas of this supervisor, by replica id. */
const claimed = new Map<string, number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    // 0.0.0.0: a server in a container on the host network usually binds every address
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port free on loopback now (also the local queue's redis-server's, cli/local/queue.ts). */
export async function anyFreePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The upstream port of replica `id`: `preferred` (pod.port) when no one holds it, else a free one. */
export async function claimUpstreamPort(id: string, preferred: number): Promise<number> {
  releaseUpstreamPort(id);
  const taken = new Set(claimed.values());
  let port = preferred;
  if (taken.has(port) || !(await bindable(port))) {
    do port = await anyFreePort();
    while (taken.has(port));
  }
  claimed.set(id, port);
  return port;
}

export function releaseUpstreamPort(id: string): void {
  claimed.delete(id);
}

/** Start of the names of every container of this home's replicas: cortex-<hash of the home>-. */
export function homePrefix(home: string): string {
  return `cortex-${createHash('sha256').update(home).digest('hex').slice(0, 8)}-`;
}

/** Start of the names of one replica's containers (removed before it is started again). */
export function replicaPrefix(home: string, replicaId: string): string {
  return `${homePrefix(home)}${replicaId}-`;
}

/** The runner detected once for this supervisor, or an error naming each runner tried and why it failed. */
export async function supervisorRunner(env: Record<string, string>): Promise<ContainerRunner> {
  const detection = await detectRunnerOnce(env);
  if (detection.runner === undefined) {
    throw new Error(`no container runner works on this machine (${describeTried(detection.tried)})`);
  }
  return detection.runner;
}

/** The replica's environment for its runner: the one the supervisor detected, so it is not detected again. */
export async function runnerEnv(env: Record<string, string>): Promise<Record<string, string>> {
  return { ...env, [RUNNER_ENV]: (await supervisorRunner(env)).name };
}

/** Removes every container whose name starts with `prefix` (and ends what still runs in them). */
export async function removeContainers(env: Record<string, string>, prefix: string): Promise<void> {
  const runner = await supervisorRunner(env);
  await runner.remove(await runner.list(prefix));
}
