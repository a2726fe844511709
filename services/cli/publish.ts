import { readFile } from 'node:fs/promises';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';
import { publishAttempts, publishWithRetry } from './publish-retry.js';
import { publishStdinLines } from './publish-line-mode.js';
import { checkStreamingProtocol } from './publish-stream.js';

const options = {
  data: { type: 'string', short: 'd' },
  file: { type: 'string', short: 'f' },
  header: { type: 'string', short: 'H', multiple: true },
  'msg-id': { type: 'string' },
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
  --msg-id ID            deduplicate: a repeat of ID on the subject inside the server's duplicate
                         window (DUPLICATE_WINDOW_MS, 2 minutes by default) stores nothing: it
                         prints the first one's sequence and says so on stderr
  --json                 print {"sequence": "...", "objectName": "...", "duplicate": false} instead
  --batch N              line mode: each stdin line is one message (without its newline), sent
                         through one PublishStream in atomic batches of up to N lines; prints each
                         line's sequence in order (--json: {"line": 1, "sequence": "..."}). A
                         rejected batch is named on stderr by its lines and the exit status is 1
  --in-flight N          line mode: batches sent and not yet answered at most (default 4)
  --summary              line mode: print one summary line instead of the sequences

An \`unavailable\` failure of a single message is retried (${publishAttempts} attempts in all) with the same msg-id
(a random one when none is given), so a retry after an ambiguous failure is not stored twice.

${globalUsage}

Example: mts publish demo.hello --data hi`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [subject] = positionals(given, 'subject');
    const headers = parseHeaders(values.header ?? []);
    if (values.batch !== undefined) {
      if (values.data !== undefined || values.file !== undefined)
        throw new UsageError('--batch reads lines from stdin: drop --data and --file');
      if (values['msg-id'] !== undefined) throw new UsageError('--msg-id names one message: give each line its own with a single publish');
      checkStreamingProtocol(values.protocol, '--batch');
      if (process.stdin.isTTY) throw new UsageError('--batch publishes the lines piped on stdin');
      const batch = integerOption(values.batch, 'batch', 100);
      if (batch > maxBatchMessages) throw new UsageError(`--batch is at most ${maxBatchMessages}, the server's limit per batch`);
      const inFlight = integerOption(values['in-flight'], 'in-flight', 4);
      const { ingress } = clientsFrom(values);
      await publishStdinLines({ ingress, subject, headers, batch, inFlight, summary: values.summary ?? false, json: values.json ?? false });
      return;
    }
    const headersWithId = withMsgId(headers, values['msg-id']);
    const data = await payload(values.data, values.file);
    const { ingress } = clientsFrom(values);
    const response = await publishWithRetry(ingress, { subject, data, headers: headersWithId });
    // Without an id of the caller's, a duplicate is this command's own earlier attempt: stored once, as asked.
    const duplicate = response.duplicate && headersWithId['msg-id'] !== undefined;
    const { sequence, objectName } = response;
    if (duplicate && !values.json) {
      process.stderr.write(
        `mts: duplicate of sequence ${sequence}: msg-id ${headersWithId['msg-id']} was published inside the duplicate window; nothing stored\n`,
      );
    }
    await writeStdout(values.json ? `${JSON.stringify({ sequence: sequence.toString(), objectName, duplicate })}\n` : `${sequence}\n`);
  },
};

function withMsgId(headers: Record<string, string>, msgId: string | undefined): Record<string, string> {
  if (msgId === undefined) return headers;
  if (msgId === '') throw new UsageError('--msg-id needs a non-empty ID');
  if (headers['msg-id'] !== undefined && headers['msg-id'] !== msgId) throw new UsageError('--msg-id and -H msg-id=... disagree');
  return { ...headers, 'msg-id': msgId };
}

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
