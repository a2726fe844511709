import { AckKind, type Message } from '../../gen/minitoolstream/egress_pb.js';
import { deliveryCountHeader } from '../store/consumers.js';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { formatMessage, messageJson, writeStdout } from './output.js';

/** Messages per frame when no --count bounds it. */
const frameMessages = 100;

const settleFlags = { ack: AckKind.ACK, nak: AckKind.NAK, term: AckKind.TERM } as const;

/** `--ack` (default), `--nak`, `--term`, or undefined for `--no-ack`. */
function settleKind(values: {
  ack?: boolean | undefined;
  'no-ack'?: boolean | undefined;
  nak?: boolean | undefined;
  term?: boolean | undefined;
}) {
  const chosen = (['ack', 'no-ack', 'nak', 'term'] as const).filter((flag) => values[flag]);
  if (chosen.length > 1) throw new UsageError(`--${chosen[0]} and --${chosen[1]} cannot be combined`);
  const flag = chosen[0] ?? 'ack';
  return flag === 'no-ack' ? undefined : settleFlags[flag];
}

const deliveryCount = (message: Message) => Number(message.headers[deliveryCountHeader] ?? '1');

/** `mts consume`: work from a configured consumer, as one of its workers. */
export const consumeCommand: Command = {
  name: 'consume',
  summary: 'take messages from a configured consumer as one of its workers and settle them',
  usage: `Usage: mts consume <name> [--count N] [--ack|--no-ack|--nak|--term] [--json]

Prints each message a configured consumer (mts consumer add) leases to this
worker, with its delivery count, then settles the frame in one AckMessages
call. Other workers on the same consumer get other messages. Runs until
Ctrl-C, or until --count messages were printed.
  --count N              stop after N messages
  --ack                  acknowledge each message (default)
  --no-ack               settle nothing: the messages are redelivered after the
                         consumer's ack wait
  --nak                  hand each message back for redelivery at once
  --term                 never deliver it again (it goes to the dead-letter
                         subject when the consumer has one)
  --json                 one JSON object per message (as mts fetch --json,
                         plus deliveryCount)

${globalUsage}

Example: mts consume workers --count 10 --json`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, {
      count: { type: 'string' },
      ack: { type: 'boolean' },
      'no-ack': { type: 'boolean' },
      nak: { type: 'boolean' },
      term: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const [durableName] = positionals(given, 'name');
    const count = values.count === undefined ? undefined : integerOption(values.count, 'count', 0);
    const kind = settleKind(values);
    const { egress } = clientsFrom(values);
    const stop = new AbortController();
    let left = count ?? Number.POSITIVE_INFINITY;
    const request = { durableName: durableName!, subject: '', maxBatch: Math.min(left, frameMessages) };
    try {
      for await (const frame of egress.consume(request, { signal: stop.signal })) {
        const shown = frame.messages.slice(0, left);
        left -= shown.length;
        for (const message of shown) {
          await writeStdout(values.json ? messageJson(message, { deliveryCount: deliveryCount(message) }) : formatMessage(message));
        }
        // What this worker will not show goes back at once, for another worker (or a later run).
        const acks = [
          ...(kind === undefined ? [] : shown.map((message) => settlement(message, kind))),
          ...frame.messages.slice(shown.length).map((message) => settlement(message, AckKind.NAK)),
        ];
        if (acks.length > 0) await egress.ackMessages({ durableName: durableName!, acks }, { signal: stop.signal });
        if (left === 0) break;
      }
    } finally {
      stop.abort();
    }
  },
};

function settlement(message: Message, kind: AckKind) {
  return { subject: message.subject, sequence: message.sequence, kind, deliveryCount: deliveryCount(message) };
}
