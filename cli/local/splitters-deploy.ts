// `cortex deploy` of a project's TrafficSplitters to the local environment: checked before any
// API is touched (every API a splitter names is in the file or deployed), applied after the
// APIs (the supervisor refuses a splitter whose APIs it does not run).
import type { LoadedProject } from '../config/index.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { SupervisorClient } from './client.ts';
import type { DeployReporter } from './deploy.ts';

export function checkLocalSplitterTargets(project: LoadedProject, deployed: string[]): void {
  const known = new Set([...project.apis.map((a) => a.name), ...deployed]);
  const problems: string[] = [];
  for (const s of project.splitters) {
    s.spec.apis.forEach((a, i) => {
      if (!known.has(a.name))
        problems.push(
          `${project.file}:${s.line}: TrafficSplitter ${s.name}: apis.${i}.name: no API ${a.name} in this file ` +
            'or in the local environment; add it to the file, deploy it first, or remove it from the splitter',
        );
    });
  }
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\nnothing was deployed`, ExitCode.Usage);
}

export async function applyLocalSplitters(
  client: SupervisorClient,
  project: LoadedProject,
  reporter: Pick<DeployReporter, 'step'>,
): Promise<void> {
  for (const s of project.splitters) {
    const split = s.spec.apis.map((a) => (a.shadow ? `shadow ${a.name}` : `${a.name} ${a.weight}%`)).join(', ');
    const step = reporter.step(`TrafficSplitter ${s.name} at ${s.spec.networking.endpoint} (${split})`);
    const answer = await client.request<{ action?: string; error?: string }>('POST', '/splitter', {
      name: s.name,
      spec: s.spec,
    });
    if (answer.status !== 200) {
      step.fail();
      throw new CliError(
        `${project.file}:${s.line}: TrafficSplitter ${s.name}: ${answer.body.error ?? answer.status}`,
        ExitCode.Failed,
      );
    }
    step.done(answer.body.action);
  }
}
