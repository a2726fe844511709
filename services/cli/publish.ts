import { readFile } from 'node:fs/promises';
import { globalUsage, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';
import { publishAttempts, publishWithRetry } from './publish-retry.js';

const options = {
  data: { type: 'string', short: 'd' },
  file: { type: 'string', short: 'f' },
  header: { type: 'string', short: 'H', multiple: true },
  'msg-id': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** `mts publish`: one message from --data, --file or stdin; prints its sequence. */
export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish one message and print its sequence',
  usage: `Usage: mts publish <subject> [--data TEXT | --file PATH | < stdin] [-H name=value]...

Publishes one message and prints the sequence it was given.
  -d, --data TEXT        the payload as UTF-8 text
  -f, --file PATH        the payload from a file, byte for byte (up to the server's limit, 64 MiB by default)
                         without either, the payload is read from stdin
  -H, --header NAME=VALUE  a message header; repeat for more (e.g. -H content-type=text/plain)
  --msg-id ID            deduplicate: a repeat of ID on the subject inside the server's duplicate
                         window (DUPLICATE_WINDOW_MS, 2 minutes by default) stores nothing: it
                         prints the first one's sequence and says so on stderr
  --json                 print {"sequence": "...", "objectName": "...", "duplicate": false} instead

An \`unavailable\` failure is retried (${publishAttempts} attempts in all) with the same msg-id
(a random one when none is given), so a retry after an ambiguous failure is not stored twice.

${globalUsage}

Example: mts publish demo.hello --data hi`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [subject] = positionals(given, 'subject');
    const headers = withMsgId(parseHeaders(values.header ?? []), values['msg-id']);
    const data = await payload(values.data, values.file);
    const { ingress } = clientsFrom(values);
    const response = await publishWithRetry(ingress, { subject, data, headers });
    // Without an id of the caller's, a duplicate is this command's own earlier attempt: stored once, as asked.
    const duplicate = response.duplicate && headers['msg-id'] !== undefined;
    const { sequence, objectName } = response;
    if (duplicate && !values.json) {
      process.stderr.write(
        `mts: duplicate of sequence ${sequence}: msg-id ${headers['msg-id']} was published inside the duplicate window; nothing stored\n`,
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
