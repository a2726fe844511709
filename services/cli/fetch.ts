import { writeFile } from 'node:fs/promises';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { formatMessage, messageJson, writeStdout } from './output.js';

const options = {
  durable: { type: 'string' },
  batch: { type: 'string' },
  'no-ack': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  raw: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `mts fetch`: one Fetch for a durable consumer, printed or saved, then acknowledged. */
export const fetchCommand: Command = {
  name: 'fetch',
  summary: "fetch the next messages after a durable consumer's position",
  usage: `Usage: mts fetch <subject> --durable NAME [--batch N] [--no-ack] [--output FILE | --raw | --json]

Fetches up to N messages after the consumer's acknowledged position, prints
them, then acknowledges the last one (unless --no-ack). Prints nothing (and
a note on stderr) when there is nothing new.
  --durable NAME         the consumer's name (required)
  --batch N              at most N messages (default 10; 1 with --output or --raw)
  --no-ack               leave the position where it is: the next fetch sees the same messages
  -o, --output FILE      write the payload of one message to FILE, byte for byte
  --raw                  write the payload of one message to stdout, byte for byte
  --json                 one JSON object per line (see mts subscribe --help)

${globalUsage}

Example: mts fetch files.upload --durable saver --output copy.bin`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [subject] = positionals(given, 'subject');
    if (!values.durable) throw new UsageError('--durable NAME is required');
    const payloadOnly = values.output !== undefined || values.raw === true;
    if (values.output !== undefined && values.raw) throw new UsageError('give --output or --raw, not both');
    const batchSize = integerOption(values.batch, 'batch', payloadOnly ? 1 : 10);
    if (payloadOnly && batchSize !== 1) throw new UsageError('--output and --raw save one message: use --batch 1');

    const { egress } = clientsFrom(values);
    let last = 0n;
    for await (const message of egress.fetch({ subject, durableName: values.durable, batchSize })) {
      last = message.sequence;
      if (values.output !== undefined) {
        await writeFile(values.output, message.data);
        await writeStdout(`${formatMessage(message, { withData: false })}  saved to ${values.output}\n`);
      } else if (values.raw) {
        await writeStdout(message.data);
      } else {
        await writeStdout(values.json ? messageJson(message) : formatMessage(message));
      }
    }
    if (last === 0n) {
      process.stderr.write(`mts: no messages on ${subject} after the position of durable "${values.durable}"\n`);
      return;
    }
    if (!values['no-ack']) await egress.ackMessage({ durableName: values.durable, subject, sequence: last });
  },
};
