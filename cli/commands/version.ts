import { readFileSync } from 'node:fs';
import { Command } from 'commander';

export function versionCommand(): Command {
  return new Command('version')
    .description('print the version of the cortex CLI and runtime')
    .option('-o, --output <format>', 'pretty or json', 'pretty')
    .action((options: { output: string }) => {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      const info = { version: pkg.version, node: process.version };
      if (options.output === 'json') process.stdout.write(JSON.stringify(info) + '\n');
      else process.stdout.write(`cortex ${info.version} (node ${info.node})\n`);
    });
}
