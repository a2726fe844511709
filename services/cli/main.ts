/** `mts`: the MiniToolStream command line. Commands live one per file beside this one. */
import { splitCommandLine, UsageError } from './args.js';
import { benchCommand } from './bench.js';
import { runCompletion } from './completion.js';
import { consumeCommand } from './consume.js';
import { consumerCommand, consumersCommand } from './consumers.js';
import type { Command } from './command.js';
import { doctorCommand } from './doctor.js';
import { describeError, exitCodes } from './errors.js';
import { fetchCommand } from './fetch.js';
import { lastCommand } from './last.js';
import { publishCommand } from './publish.js';
import { purgeCommand } from './purge.js';
import { redriveCommand } from './redrive.js';
import { retentionCommand } from './retention.js';
import { infoCommand, subjectsCommand } from './subjects.js';
import { subscribeCommand } from './subscribe.js';
import { run as keygen } from './keygen-command.js';
import { run as token } from './token-command.js';

const commands: Command[] = [
  publishCommand,
  subscribeCommand,
  fetchCommand,
  lastCommand,
  subjectsCommand,
  infoCommand,
  consumersCommand,
  consumerCommand,
  consumeCommand,
  redriveCommand,
  purgeCommand,
  retentionCommand,
  doctorCommand,
  benchCommand,
];
/** Offline commands that parse their own flags, print their own help and return an exit code. */
const offline: Record<string, { summary: string; run: (args: string[]) => Promise<number>; words?: string[] }> = {
  token: { summary: 'mint a development JWT from a private key file', run: token },
  keygen: { summary: 'write a key pair for signing development JWTs', run: keygen },
  completion: {
    summary: 'print a bash or zsh completion script',
    words: ['bash', 'zsh'],
    run: (args) => runCompletion(args, [...commands, ...Object.entries(offline).map(([name, { words }]) => ({ name, usage: '', words }))]),
  },
};

const overview = `Usage: mts <command> [flags]

Commands:
${commands.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`).join('\n')}
${Object.entries(offline)
  .map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`)
  .join('\n')}

Run "mts <command> --help" for its flags. Every command takes --url URL (both
services at one address, as npm start serves them), --ingress URL, --egress URL,
--token TOKEN and --protocol grpc|connect, before or after the command name;
MTS_URL, MTS_INGRESS, MTS_EGRESS and MTS_TOKEN set them from the environment.
Exit status: 0 done, 1 the call failed (the line names the gRPC code), 2 bad usage.`;

const { name, args: rest } = splitCommandLine(process.argv.slice(2));
const command = commands.find((candidate) => candidate.name === name);

if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
  process.stdout.write(`${overview}\n`);
} else if (Object.hasOwn(offline, name)) {
  process.exitCode = await offline[name]!.run(rest);
} else if (!command) {
  process.stderr.write(`mts: unknown command "${name}"\n\n${overview}\n`);
  process.exitCode = exitCodes.usage;
} else if (rest.includes('--help') || rest.includes('-h')) {
  process.stdout.write(`${command.usage}\n`);
} else {
  try {
    await command.run(rest);
  } catch (error) {
    process.stderr.write(`mts: ${describeError(error)}\n`);
    if (error instanceof UsageError) process.stderr.write(`Run "mts ${command.name} --help" for usage.\n`);
    process.exitCode = error instanceof UsageError ? exitCodes.usage : exitCodes.failure;
  }
  // Exit explicitly: a gRPC stream left early (subscribe --count) can keep its
  // HTTP/2 connection referenced in connect-node. Output is already written.
  process.exit();
}
