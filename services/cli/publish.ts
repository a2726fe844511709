import { readFile } from 'node:fs/promises';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';
import { publishStdinLines } from './publish-line-mode.js';
import { checkStreamingProtocol } from './publish-stream.js';

const options = {
  data: { type: 'string', short: 'd' },
  file: { type: 'string', short: 'f' },
  header: { type: 'string', short: 'H', multiple: true },
  json: { type: 'boolean' },
  batch: { type: 'string' },
  'in-flight': { type: 'string' },
  summary: { type: 'boolean' },
} as const;

const maxBatchMessages = 10_000;

/** `mts publish`: one message from --data, --file or stdin; prints its sequence. */
export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish one message (or each stdin line) and print its sequence',
  usage: `Usage: mts publish <subject> [--data TEXT | --file PATH | < stdin] [-H name=value]...
       mts publish <subject> --batch N [--in-flight N] [--summary] [-H name=value]... < lines

Publishes one message and prints the sequence it was given.
  -d, --data TEXT        the payload as UTF-8 text
  -f, --file PATH        the payload from a file, byte for byte (up to the server's limit, 64 MiB by default)
                         without either, the payload is read from stdin
  -H, --header NAME=VALUE  a message header; repeat for more (e.g. -H content-type=text/plain)
  --json                 print {"sequence": "...", "objectName": "..."} instead
  --batch N              line mode: each stdin line is one message (without its newline), sent
                         through one PublishStream in atomic batches of up to N lines; prints each
                         line's sequence in order (--json: {"line": 1, "sequence": "..."}). A
                         rejected batch is named on stderr by its lines and the exit status is 1
  --in-flight N          line mode: batches sent and not yet answered at most (default 4)
  --summary              line mode: print one summary line instead of the sequences

${globalUsage}

Example: mts publish demo.hello --data hi`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [subject] = positionals(given, 'subject');
    const headers = parseHeaders(values.header ?? []);
    if (values.batch !== undefined) {
      if (values.data !== undefined || values.file !== undefined)
        throw new UsageError('--batch reads lines from stdin: drop --data and --file');
      checkStreamingProtocol(values.protocol, '--batch');
      if (process.stdin.isTTY) throw new UsageError('--batch publishes the lines piped on stdin');
      const batch = integerOption(values.batch, 'batch', 100);
      if (batch > maxBatchMessages) throw new UsageError(`--batch is at most ${maxBatchMessages}, the server's limit per batch`);
      const inFlight = integerOption(values['in-flight'], 'in-flight', 4);
      const { ingress } = clientsFrom(values);
      await publishStdinLines({ ingress, subject, headers, batch, inFlight, summary: values.summary ?? false, json: values.json ?? false });
      return;
    }
    const data = await payload(values.data, values.file);
    const { ingress } = clientsFrom(values);
    const response = await ingress.publish({ subject, data, headers });
    await writeStdout(
      values.json
        ? `${JSON.stringify({ sequence: response.sequence.toString(), objectName: response.objectName })}\n`
        : `${response.sequence}\n`,
    );
  },
};

function parseHeaders(pairs: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const split = pair.indexOf('=');
    if (split <= 0) throw new UsageError(`-H "${pair}" is not NAME=VALUE`);
    headers[pair.slice(0, split)] = pair.slice(split + 1);
  }
  return headers;
}

async function payload(data: string | undefined, file: string | undefined): Promise<Uint8Array> {
  if (data !== undefined && file !== undefined) throw new UsageError('give --data or --file, not both');
  if (data !== undefined) return Buffer.from(data, 'utf8');
  if (file !== undefined) return readFile(file);
  if (process.stdin.isTTY) throw new UsageError('give --data TEXT or --file PATH, or pipe the payload on stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
