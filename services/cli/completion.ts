import { globalOptions, UsageError } from './args.js';
import { writeStdout } from './output.js';

/** A command as completion sees it: its name, the flags its help names, and words it takes. */
export interface CompletionEntry {
  name: string;
  /** The command's help text (flags are read from it); empty for commands that parse their own flags. */
  usage: string;
  /** Fixed words the command takes as arguments (`info reset`, `bash zsh`). */
  words?: string[];
}

const valuedGlobals = Object.entries(globalOptions)
  .filter(([, option]) => option.type === 'string')
  .map(([name]) => `--${name}`);
const globalFlags = Object.keys(globalOptions).map((name) => `--${name}`);

const flagsOf = (usage: string): string[] =>
  usage === '' ? [] : [...new Set([...(usage.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []), ...globalFlags])];

/**
 * A bash completion function for mts: command names first (after any global
 * flags and their values), then the flags of the command being typed, taken
 * from its help text so they never drift, and its fixed words; file names
 * otherwise. zsh runs the same function through bashcompinit.
 */
export function bashCompletion(entries: CompletionEntry[]): string {
  const cases = entries
    .map(({ name, usage, words = [] }) => `    ${name}) flags="${flagsOf(usage).join(' ')}" choices="${words.join(' ')}" ;;`)
    .join('\n');
  return `# mts completion for bash: source <(mts completion bash), or add that line to ~/.bashrc
_mts() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" command="" flags="" choices="" index=1
  while [ "$index" -lt "$COMP_CWORD" ]; do
    case "\${COMP_WORDS[index]}" in
      ${valuedGlobals.join('|')}) index=$((index + 2)) ;;
      -*) index=$((index + 1)) ;;
      *) command="\${COMP_WORDS[index]}"; break ;;
    esac
  done
  case "$command" in
    "") flags="${globalFlags.join(' ')}" choices="${[...entries.map((entry) => entry.name), 'help'].join(' ')}" ;;
${cases}
  esac
  # shellcheck disable=SC2207 # word splitting is wanted, and zsh's bashcompinit has no mapfile
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$flags" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "$choices" -- "$cur")) ;;
  esac
}
complete -o default -F _mts mts
`;
}

/** `mts completion bash|zsh`: prints the script for the shell. */
export async function runCompletion(args: string[], entries: CompletionEntry[]): Promise<number> {
  const [shell, ...rest] = args;
  if (shell === '--help' || shell === '-h') {
    await writeStdout(completionUsage);
    return 0;
  }
  if (rest.length > 0 || (shell !== 'bash' && shell !== 'zsh')) {
    process.stderr.write(`mts: ${new UsageError('give the shell: mts completion bash or mts completion zsh').message}\n`);
    return 2;
  }
  const script = bashCompletion(entries);
  await writeStdout(shell === 'bash' ? script : zshWrapper(script));
  return 0;
}

/**
 * zsh runs bash completion functions through bashcompinit, with its arrays
 * counting from 1; the wrapper counts from 0 as bash does while _mts runs.
 */
function zshWrapper(bashScript: string): string {
  const body = bashScript.split('\n').slice(1).join('\n').replace('complete -o default -F _mts mts', '');
  return `# mts completion for zsh: source <(mts completion zsh), or add that line to ~/.zshrc
autoload -U +X bashcompinit && bashcompinit
${body.trimEnd()}
_mts_zsh() {
  setopt localoptions ksharrays
  _mts "$@"
}
complete -o default -F _mts_zsh mts
`;
}

const completionUsage = `Usage: mts completion bash|zsh

Prints a shell completion script for mts: commands, and each command's flags.
  bash: source <(mts completion bash)   (add it to ~/.bashrc to keep it)
  zsh:  source <(mts completion zsh)    (add it to ~/.zshrc to keep it)
`;
