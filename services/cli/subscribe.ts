import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { followConsume } from './consume-follow.js';
import { follow } from './follow.js';
import { formatMessage, messageJson, writeStdout } from './output.js';

const options = {
  durable: { type: 'string' },
  from: { type: 'string' },
  batch: { type: 'string' },
  count: { type: 'string' },
  'exit-when-idle': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `mts subscribe`: follows a subject as a durable consumer, printing then acknowledging each message. */
export const subscribeCommand: Command = {
  name: 'subscribe',
  summary: 'follow a subject as a durable consumer (print, then ack)',
  usage: `Usage: mts subscribe <subject> --durable NAME [--from SEQ] [--count N] [--exit-when-idle] [--json]

Follows the subject: the server pushes every message after the durable
consumer's acknowledged position (Consume), and new ones as they are
committed; each message is printed, then the last printed one acknowledged
(print, then ack: a message is never acknowledged unseen). If the server goes
away it reconnects with backoff and carries on where the consumer's
acknowledgements left it, with a note on stderr when the service is lost and
when it is back. Delivery is at-least-once: a message printed whose ack did
not reach the server comes again, and this run does not print it a second
time (it acknowledges it again); another run of the same consumer may.
  --durable NAME         the consumer's name; its position survives restarts (required)
  --from SEQ             skip (acknowledge without printing) messages below SEQ
  --batch N              messages per pushed frame, or per Fetch with --exit-when-idle (default 100)
  --count N              exit 0 after printing N messages
  --exit-when-idle       exit 0 once everything published so far is printed (reads with Fetch)
  --json                 one JSON object per line: subject, sequence, timestamp, headers, size,
                         and text (UTF-8 without control characters) or base64

${globalUsage}

Example: mts subscribe demo.hello --durable me`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [subject] = positionals(given, 'subject');
    if (!values.durable) throw new UsageError('--durable NAME is required');
    const count = values.count === undefined ? Infinity : integerOption(values.count, 'count', 1);
    let printed = 0;
    // Sequences only grow for one consumer: anything at or below this was printed by this run.
    let lastPrinted = 0n;
    const batch = integerOption(values.batch, 'batch', 100);
    const consumer = {
      egress: clientsFrom(values).egress,
      subject,
      durable: values.durable,
      from: values.from === undefined ? undefined : BigInt(integerOption(values.from, 'from', 1)),
      async handle(message: Message): Promise<'more' | 'stop'> {
        if (message.sequence <= lastPrinted) return 'more';
        await writeStdout(values.json ? messageJson(message) : formatMessage(message));
        lastPrinted = message.sequence;
        return ++printed >= count ? 'stop' : 'more';
      },
      onReconnect(reason: string, delayMs: number) {
        process.stderr.write(`mts: lost the egress service (${reason}); reconnecting in ${(delayMs / 1000).toFixed(1)} s\n`);
      },
      onReconnected() {
        process.stderr.write('mts: the egress service is back; following again\n');
      },
    };
    // Draining the backlog and stopping is what Fetch is for; following is what Consume is for.
    if (values['exit-when-idle']) await follow({ ...consumer, batch, exitWhenIdle: true });
    else await followConsume({ ...consumer, maxBatch: batch });
  },
};
