// `cortex env list|configure|default|delete`: the environments the CLI deploys to. For now
// there is one, local (this machine); cluster environments come with cluster support.
import { Command, Option } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { findSupervisor } from '../local/client.ts';
import { LOCAL, baseUrl, readEnvConfig, writeEnvConfig } from '../local/environments.ts';
import { layout } from '../local/paths.ts';
import { colors, err, out, table } from '../output.ts';
import { format, outputOption } from './common.ts';

const onlyLocal = (name: string) =>
  new CliError(`only the local environment exists for now (cluster environments come with cluster support); got "${name}"`, ExitCode.NotFound);

export function envCommand(): Command {
  const env = new Command('env').description('list and configure environments (local: this machine)');

  env.command('list')
    .description('list the environments')
    .addOption(outputOption())
    .action((flags: { output: string }) => {
      const config = readEnvConfig(layout());
      const rows = config.environments.map((e) => ({ ...e, url: baseUrl(e), default: e.name === config.defaultEnvironment }));
      if (format(flags) === 'json') return out(JSON.stringify(rows, null, 2));
      const c = colors(process.stdout);
      out(table(['env', 'provider', 'endpoint base', 'listen', ''], rows.map((r) => [r.name, r.provider, r.url, `${r.host}:${r.port}`, r.default ? c.green('default') : ''])));
    });

  env.command('configure')
    .description('configure an environment (local: the port and address every API is served on)')
    .argument('[name]', 'environment', LOCAL)
    .addOption(new Option('--provider <provider>', 'kind of environment').choices(['local']).default('local'))
    .option('-p, --port <port>', 'port the APIs share (default 8888)')
    .option('--host <address>', 'address to listen on: 127.0.0.1 (this machine only, the default) or 0.0.0.0 (every interface)')
    .action(async (name: string, flags: { port?: string; host?: string }) => {
      if (name !== LOCAL) throw onlyLocal(name);
      const l = layout();
      const config = readEnvConfig(l);
      const local = config.environments.find((e) => e.name === LOCAL)!;
      if (flags.port !== undefined) {
        const port = Number(flags.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`--port must be a whole number from 1 to 65535, got "${flags.port}"`, ExitCode.Usage);
        local.port = port;
      }
      if (flags.host !== undefined) local.host = flags.host;
      writeEnvConfig(l, config);
      const running = await findSupervisor(l);
      if (running) {
        const answer = await running.request<{ listening: boolean; error?: string; port: number }>('POST', '/reload');
        if (answer.body.error) throw new CliError(`saved, but the running APIs could not move: ${answer.body.error}`, ExitCode.Failed);
      }
      out(`configured ${LOCAL}: APIs are served at ${baseUrl(local)}/<endpoint>`);
    });

  env.command('default')
    .description('set the default environment (or print it)')
    .argument('[name]', 'environment')
    .action((name: string | undefined) => {
      const l = layout();
      const config = readEnvConfig(l);
      if (name === undefined) return out(config.defaultEnvironment);
      if (!config.environments.some((e) => e.name === name)) throw onlyLocal(name);
      config.defaultEnvironment = name;
      writeEnvConfig(l, config);
      err(`the default environment is now ${name}`);
    });

  env.command('delete')
    .description('delete an environment')
    .argument('<name>', 'environment')
    .action((name: string) => {
      if (name === LOCAL) throw new CliError('the local environment cannot be deleted (delete its APIs with cortex delete)', ExitCode.Usage);
      throw onlyLocal(name);
    });
  return env;
}
