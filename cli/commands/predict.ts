// `cortex predict API [FILE|-]`: sends a request body (a file, or stdin) to the API's endpoint
// and prints the answer.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { supervisorStatus } from '../local/status.ts';
import { connect } from '../cluster/connect.ts';
import { predictThroughProxy } from '../cluster/operations.ts';
import { environment, envOption, localTarget, notFound } from './common.ts';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('send a prediction request to an API and print the answer (exit 1 when it is not 2XX)')
    .argument('<api>', 'name of the API')
    .argument('[file]', 'the request body: a file, or - for stdin (default: stdin when it is not a terminal)')
    .addOption(envOption())
    .option('-H, --content-type <type>', 'Content-Type of the body', 'application/json')
    .action(async (name: string, file: string | undefined, flags: { env?: string; contentType: string }) => {
      const env = environment(flags.env);
      let body: Buffer;
      if (file === undefined || file === '-') {
        if (file === undefined && process.stdin.isTTY)
          throw new CliError(
            'give the request body: a file (cortex predict API sample.json) or - to read stdin',
            ExitCode.Usage,
          );
        body = await readStdin();
      } else {
        try {
          body = readFileSync(file);
        } catch (error) {
          throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.Usage);
        }
      }
      if (env.provider === 'kubernetes') {
        // Through the API server's service proxy: only the kubeconfig is needed, no ingress.
        const answer = await predictThroughProxy(connect(env), name, body, flags.contentType);
        return print(name, answer.status, answer.statusText, answer.body);
      }
      const t = localTarget(env);
      const status = await supervisorStatus(t.layout);
      const api = status?.apis.find((a) => a.name === name);
      if (api === undefined) throw notFound(name, status?.apis.map((a) => a.name) ?? []);
      let response: Response;
      try {
        response = await fetch(t.clientUrl + api.endpoint, {
          method: 'POST',
          headers: { 'content-type': flags.contentType },
          body,
        });
      } catch (error) {
        throw new CliError(
          `could not reach ${t.baseUrl + api.endpoint}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
          ExitCode.Failed,
        );
      }
      print(name, response.status, response.statusText, Buffer.from(await response.arrayBuffer()));
    });
}

function print(name: string, status: number, statusText: string, answer: Buffer): void {
  process.stdout.write(answer);
  if (process.stdout.isTTY && !answer.toString('utf8').endsWith('\n')) process.stdout.write('\n');
  if (status < 200 || status >= 300) throw new CliError(`${name} answered ${status} ${statusText}`, ExitCode.Failed);
}
