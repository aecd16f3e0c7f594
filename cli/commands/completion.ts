// `cortex completion bash|zsh`: a shell completion script, generated from the commands
// themselves; API names come from `cortex __complete-apis` (reads state.json, starts nothing).
import { Type, type Static } from '@sinclair/typebox';
import { Command, Argument } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { printOut } from '../io.ts';
import { readState } from '../local/state.ts';
import { action, type RunF } from './common.ts';

function visible(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
}

function words(cmd: Command): { options: string; apis: boolean; subcommands: string } {
  const options = cmd.options.flatMap((o) => [o.short, o.long]).filter((x): x is string => Boolean(x));
  const args = (cmd as unknown as { registeredArguments: readonly Argument[] }).registeredArguments ?? [];
  return {
    options: [...options, '--help'].join(' '),
    apis: args[0]?.name() === 'api',
    subcommands: visible(cmd)
      .map((c) => c.name())
      .join(' '),
  };
}

export function bashScript(program: Command): string {
  const cases = visible(program)
    .map((cmd) => {
      const w = words(cmd);
      const sub = visible(cmd)
        .map((s) => `      ${cmd.name()}:${s.name()}) opts="${words(s).options}" ;;`)
        .join('\n');
      return [
        `    ${cmd.name()})`,
        `      opts="${w.options}"; apis=${w.apis ? 1 : 0}; subs="${w.subcommands}"`,
        sub ? `      case "${cmd.name()}:\${COMP_WORDS[2]}" in\n${sub}\n      esac` : '',
        '      ;;',
      ]
        .filter(Boolean)
        .join('\n');
    })
    .join('\n');
  return `# cortex shell completion (bash; zsh through bashcompinit). Install:
#   cortex completion bash > ~/.local/share/bash-completion/completions/cortex
_cortex_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts="" apis=0 subs=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${visible(program)
      .map((c) => c.name())
      .join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  elif [ -n "$subs" ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
  elif [ "$apis" = 1 ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=( $(compgen -W "$(cortex __complete-apis 2>/dev/null)" -- "$cur") )
  fi
}
complete -o default -F _cortex_complete cortex
`;
}

export const CompletionOptions = Type.Object({ shell: Type.String() });
export type CompletionOptions = Static<typeof CompletionOptions>;

export function runCompletion(options: CompletionOptions, f: Factory, program: () => Command): void {
  const { shell } = options;
  if (shell === 'bash') return printOut(f.io, bashScript(program()));
  if (shell === 'zsh')
    return printOut(f.io, `#compdef cortex\nautoload -U +X bashcompinit && bashcompinit\n${bashScript(program())}`);
  throw new CliError(`shell must be bash or zsh, got "${shell}"`, ExitCode.Usage);
}

export function completionCommand(
  f: Factory,
  program: () => Command,
  runF: RunF<CompletionOptions> = (options) => runCompletion(options, f, program),
): Command {
  return new Command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      '\nbash: cortex completion bash > ~/.local/share/bash-completion/completions/cortex\n' +
        'zsh:  cortex completion zsh > "${fpath[1]}/_cortex"  (or: source <(cortex completion zsh))',
    )
    .action(action(CompletionOptions, ['shell'], (options) => runF(options, f)));
}

export const CompleteApisOptions = Type.Object({});
export type CompleteApisOptions = Static<typeof CompleteApisOptions>;

/** API names recorded in the local environment (reads state.json, starts nothing). */
export function runCompleteApis(_options: CompleteApisOptions, f: Factory): void {
  const names = Object.keys(readState(f.layout()).apis);
  if (names.length > 0) printOut(f.io, names.join('\n'));
}

export function completeApisCommand(f: Factory, runF: RunF<CompleteApisOptions> = runCompleteApis): Command {
  return new Command('__complete-apis')
    .description('API names, for shell completion')
    .action(action(CompleteApisOptions, [], (options) => runF(options, f)));
}
