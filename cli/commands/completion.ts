// `cortex completion bash|zsh`: a shell completion script, generated from the commands
// themselves; API names come from `cortex __complete-apis` (reads state.json, starts nothing).
import { Command, Argument } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import { layout } from '../local/paths.ts';
import { readState } from '../local/state.ts';
import { out } from '../output.ts';

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

export function completionCommand(program: () => Command): Command {
  return new Command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      '\nbash: cortex completion bash > ~/.local/share/bash-completion/completions/cortex\nzsh:  cortex completion zsh > "${fpath[1]}/_cortex"  (or: source <(cortex completion zsh))',
    )
    .action((shell: string) => {
      if (shell === 'bash') return out(bashScript(program()));
      if (shell === 'zsh')
        return out(`#compdef cortex\nautoload -U +X bashcompinit && bashcompinit\n${bashScript(program())}`);
      throw new CliError(`shell must be bash or zsh, got "${shell}"`, ExitCode.Usage);
    });
}

export function completeApisCommand(): Command {
  return new Command('__complete-apis').description('API names, for shell completion').action(() => {
    const names = Object.keys(readState(layout()).apis);
    if (names.length > 0) out(names.join('\n'));
  });
}
