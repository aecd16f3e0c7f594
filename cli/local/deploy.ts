// `cortex deploy` against the local environment, without the printing: validate, pack,
// install requirements (all before anything changes), then hand each API's version to the
// supervisor and follow its rollout. A reporter shows the steps.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { JobApiKind } from '../../operator/api/v1alpha1/index.ts';
import {
  ConfigError,
  displayPath,
  explainConfigError,
  formatIssue,
  loadProject,
  type LoadedProject,
} from '../config/index.ts';
import { DependencyError, preparePython, runsInPython, runtimeRequirements } from '../../runtime/deps.ts';
import { apiLogger } from '../../operator/util/log.ts';
import { CliError, ExitCode } from '../errors.ts';
import { bytes, plural } from '../output.ts';
import { applyLocalSplitters, checkLocalSplitterTargets } from './splitters-deploy.ts';
import { ensureSupervisor, type SupervisorClient } from './client.ts';
import { readState } from './state.ts';
import { localIgnoredWarnings } from './ignored.ts';
import { checkPodApisLocally } from './pod-apis.ts';
import type { Layout } from './paths.ts';
import { jobApi, jobSnapshotsDir, saveJobApi } from './jobs.ts';
import type { DeployRequest, RolloutAction, RolloutEvent } from './protocol.ts';
import {
  PACK_LIMITS,
  createSnapshot,
  listProjectFiles,
  localSnapshotIncludes,
  removeSnapshot,
  type Snapshot,
} from './snapshot.ts';

export interface StepHandle {
  update(label: string): void;
  detail(line: string): void;
  done(note?: string): void;
  fail(note?: string): void;
}

export interface DeployReporter {
  step(label: string): StepHandle;
  warning(message: string): void;
  /** Before an API's rollout: creating / updating / up to date. */
  plan(api: string, plan: 'creating' | 'updating' | 'up to date'): void;
  /** Asked when the folder is large; false stops the deploy. */
  confirm(question: string): Promise<boolean>;
}

export interface DeployResult {
  api: string;
  action: RolloutAction;
  endpoint: string;
  reason?: string;
  replica?: string;
  logTail?: string[];
  /** The project folder (for the curl example's sample.json). */
  projectDir: string;
  /** What was about to happen: creating (a new API), updating, or up to date. */
  plan: 'creating' | 'updating' | 'up to date';
  /** A BatchAPI or TaskAPI: nothing serves it, jobs are submitted to it (cli/local/jobs.ts). */
  kind?: JobApiKind;
}

/** Variables of the deploying shell that replicas get (they choose Python and its caches, and the container runner). */
const PASSED_ENV = ['CORTEX_PYTHON', 'CORTEX_CACHE_DIR', 'XDG_CACHE_HOME', 'CORTEX_CONTAINER_RUNNER'];

function replicaEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...PASSED_ENV, 'PATH']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A version is its API's name, spec, project contents and the variables that shape it. */
export function versionHash(
  name: string,
  project: LoadedProject,
  spec: unknown,
  snapshot: Snapshot,
  env: Record<string, string>,
): string {
  const shaping = Object.fromEntries(PASSED_ENV.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  return createHash('sha256')
    .update(JSON.stringify({ name, spec, content: snapshot.hash, config: path.basename(project.file), env: shaping }))
    .digest('hex');
}

export interface DeployOptions {
  config: string;
  yes: boolean;
  layout: Layout;
}

export async function deployProject(options: DeployOptions, reporter: DeployReporter): Promise<DeployResult[]> {
  const l = options.layout;
  // 1. Validate: a bad file stops here, before anything changes.
  const target = path.resolve(options.config);
  const validating = reporter.step(`validating ${displayPath(target)}`);
  let project: LoadedProject;
  try {
    project = loadProject(target);
  } catch (error) {
    if (error instanceof ConfigError) {
      validating.fail(plural(error.issues.length, 'problem'));
      throw new CliError(`${explainConfigError(error)}\nnothing was deployed`, ExitCode.Usage);
    }
    throw error;
  }
  try {
    await checkPodApisLocally(project);
  } catch (error) {
    validating.fail('pod APIs need a container runner and their images');
    throw error;
  }
  validating.done(plural(project.apis.length, 'API'));
  for (const w of project.warnings) reporter.warning(formatIssue(w));
  for (const w of localIgnoredWarnings(project)) reporter.warning(formatIssue(w));

  // 2. Pack: copy the folder, so that later edits do not change what runs.
  const packing = reporter.step(`packing ${displayPath(project.dir)}`);
  let files: ReturnType<typeof listProjectFiles>;
  try {
    files = listProjectFiles(project.dir, {
      include: localSnapshotIncludes(project.dir, project.file),
      skipDirs: [l.home],
    });
  } catch (error) {
    // e.g. links that leave the project: the step must not end as "done" above the error
    packing.fail();
    throw error;
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  if ((files.length > PACK_LIMITS.files || total > PACK_LIMITS.bytes) && !options.yes) {
    const what = `${project.dir} holds ${plural(files.length, 'file')} (${bytes(total)}), all of which would be copied`;
    const ok = await reporter.confirm(`${what}; deploy anyway?`);
    if (!ok) {
      packing.fail('stopped');
      throw new CliError(
        `${what}; list what to leave out in ${path.join(project.dir, '.cortexignore')}, or pass -y to deploy it all`,
        ExitCode.Usage,
      );
    }
  }
  const snapshot = createSnapshot(files, l.snapshots);
  packing.done(`${plural(snapshot.files, 'file')}, ${bytes(snapshot.bytes)}`);
  let handedOver = false;
  try {
    // 3. Requirements: installed into the cached virtualenv the replicas will use.
    await installRequirements(project, snapshot, reporter);

    // BatchAPIs and TaskAPIs: recorded with a snapshot of their own (the supervisor removes the
    // snapshots none of its replicas use); nothing runs until a job is submitted
    const jobSnapshot = project.jobApis.length > 0 ? createSnapshot(files, jobSnapshotsDir(l)) : undefined;
    const jobResults = project.jobApis.map((api): DeployResult => {
      const plan = jobApi(l, api.name) === undefined ? 'creating' : 'updating';
      reporter.plan(api.name, plan);
      saveJobApi(l, {
        ...api,
        snapshot: jobSnapshot!.dir,
        source: project.dir,
        deployedTime: new Date().toISOString(),
      });
      const action = plan === 'creating' ? 'created' : 'updated';
      return {
        api: api.name,
        kind: api.kind,
        endpoint: api.spec.networking.endpoint,
        projectDir: project.dir,
        plan,
        action,
      };
    });
    // 4. The supervisor runs the rollouts.
    let starting: StepHandle | undefined;
    const client = await ensureSupervisor(l, () => (starting = reporter.step('starting the local environment')));
    starting?.done();
    const status = await client.status();
    for (const warning of status.warnings ?? []) reporter.warning(warning);
    if (!status.gateway.listening && status.gateway.error) {
      throw new CliError(`${status.gateway.error}\nnothing was deployed`, ExitCode.Failed);
    }
    // job APIs need the supervisor too: its gateway serves their endpoints (gateway-jobs.ts)
    if (project.apis.length === 0 && project.splitters.length === 0) return jobResults;
    // a splitter naming an API that is neither in the file nor deployed stops the deploy here
    checkLocalSplitterTargets(
      project,
      status.apis.map((a) => a.name),
    );
    const env = replicaEnv();
    const results: DeployResult[] = [];
    for (const api of project.apis) {
      const hash = versionHash(api.name, project, api.spec, snapshot, env);
      const existing = status.apis.find((a) => a.name === api.name);
      const base = { api: api.name, endpoint: api.spec.networking.endpoint, projectDir: project.dir };
      if (existing?.version === hash.slice(0, 8) && existing.updatingTo === undefined) {
        reporter.plan(api.name, 'up to date');
        results.push({ ...base, plan: 'up to date', action: 'up-to-date' });
        continue;
      }
      const plan = existing?.version === undefined ? 'creating' : 'updating';
      reporter.plan(api.name, plan);
      const request: DeployRequest = {
        name: api.name,
        hash,
        snapshot: snapshot.dir,
        configFile: path.join(snapshot.dir, path.basename(project.file)),
        spec: api.spec,
        env,
        source: project.dir,
      };
      handedOver = true;
      let result;
      try {
        result = await rollout(client, request, reporter);
      } catch (error) {
        // The supervisor went away mid-deploy: the snapshot is ours again unless a version uses it.
        const used = Object.values(readState(l).apis).some((a) => a.version?.snapshot === snapshot.dir);
        if (error instanceof CliError && error.exitCode === ExitCode.Unavailable && !used) handedOver = false;
        throw error;
      }
      // Messages name the project's files, not their copies.
      const unsnap = (text: string) => text.replaceAll(snapshot.dir, project.dir);
      if (result.reason !== undefined) result.reason = unsnap(result.reason);
      if (result.logTail !== undefined) result.logTail = result.logTail.map(unsnap);
      results.push({ ...base, plan, ...result });
    }
    await applyLocalSplitters(client, project, reporter);
    return [...jobResults, ...results];
  } finally {
    if (!handedOver) removeSnapshot(snapshot.dir);
  }
}

async function installRequirements(
  project: LoadedProject,
  snapshot: Snapshot,
  reporter: DeployReporter,
): Promise<void> {
  // one install per requirements file and runtime requirements (the replica's venv cache key)
  const files = new Map<string, [file: string, extra: string[]]>();
  for (const api of project.apis) {
    const predictor = api.spec.predictor;
    if (predictor === undefined || !runsInPython(predictor.type)) continue;
    // dependencies.sh runs before pip (it may install what pip builds against), in each replica
    // as it starts: its pip install happens there too, and a failure is the rollout's reason.
    if (existsSync(path.resolve(snapshot.dir, predictor.dependencies.shell))) continue;
    const rel = path.relative(project.dir, path.resolve(project.dir, predictor.dependencies.pip));
    const file = path.join(snapshot.dir, rel);
    const extra = runtimeRequirements(predictor.type, file, predictor.protobufPath !== undefined);
    if (existsSync(file) || extra.length > 0) files.set(`${file}\0${extra.join(' ')}`, [file, extra]);
  }
  for (const [file, extra] of files.values()) {
    const what = [...(existsSync(file) ? [path.relative(snapshot.dir, file)] : []), ...extra].join(' ');
    const step = reporter.step(`installing ${what}`);
    let cached = false;
    const logger = apiLogger('cortex', 'info', (chunk) => {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        const entry = JSON.parse(line) as { source?: string; message: string };
        if (entry.source === 'pip') step.detail(entry.message);
        else if (entry.message.startsWith('reusing cached')) cached = true;
      }
    });
    try {
      await preparePython(file, logger, { extra });
      logger.flush();
      step.done(cached ? 'cached' : undefined);
    } catch (error) {
      logger.flush();
      if (!(error instanceof DependencyError)) throw error;
      step.fail();
      throw new CliError(
        `${error.message.replaceAll(snapshot.dir, project.dir)}\nnothing was deployed; what was running keeps running`,
        ExitCode.Failed,
      );
    }
  }
}

async function rollout(
  client: SupervisorClient,
  request: DeployRequest,
  reporter: DeployReporter,
): Promise<Omit<DeployResult, 'api' | 'endpoint' | 'projectDir' | 'plan'>> {
  let starting: StepHandle | undefined;
  let waiting: StepHandle | undefined;
  const onEvent = (event: RolloutEvent) => {
    if (event.type === 'starting') {
      starting = reporter.step(`starting ${plural(event.replicas.length, 'replica')} of ${request.name}`);
      starting.done();
      waiting = reporter.step(`waiting for ${request.name} to be ready (0/${event.replicas.length})`);
    } else if (event.type === 'replica-ready') {
      waiting?.update(`waiting for ${request.name} to be ready (${event.ready}/${event.of})`);
    }
  };
  const last = await client.stream('/deploy', request, onEvent).catch((error: unknown) => {
    waiting?.fail();
    throw error;
  });
  if (last?.type !== 'result') {
    waiting?.fail();
    throw new CliError(
      `the local environment stopped answering during the deploy of ${request.name}: its supervisor stopped; ` +
        'deploy again',
      ExitCode.Unavailable,
    );
  }
  if (last.action === 'failed' || last.action === 'superseded') waiting?.fail();
  else waiting?.done();
  return {
    action: last.action,
    ...(last.reason !== undefined ? { reason: last.reason } : {}),
    ...(last.replica !== undefined ? { replica: last.replica } : {}),
    ...(last.logTail !== undefined ? { logTail: last.logTail } : {}),
  };
}
