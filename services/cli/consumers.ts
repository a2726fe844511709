import type { ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { writeStdout } from './output.js';
import { formatTable } from './table.js';

function consumerJson(info: ConsumerInfo): string {
  return `${JSON.stringify({
    durable: info.durableName,
    subject: info.subject,
    ackFloor: info.ackFloor.toString(),
    lastSequence: info.lastSequence.toString(),
    pending: info.pending.toString(),
  })}\n`;
}

const header = ['DURABLE', 'SUBJECT', 'ACKED', 'LAST', 'PENDING'];
const row = (info: ConsumerInfo): string[] => [
  info.durableName,
  info.subject,
  `${info.ackFloor}`,
  `${info.lastSequence}`,
  `${info.pending}`,
];
const print = (infos: ConsumerInfo[], json: boolean | undefined) =>
  writeStdout(json ? infos.map(consumerJson).join('') : formatTable(header, infos.map(row)));

/** `mts consumers`: every durable consumer (of one subject), with its position. */
export const consumersCommand: Command = {
  name: 'consumers',
  summary: 'list durable consumers with their acknowledged position and pending count',
  usage: `Usage: mts consumers [SUBJECT] [--json]

Lists durable consumers (those on subjects your token may fetch), of one subject
when given: the acknowledged sequence, the subject's last, and how many are pending.
  --json                 one JSON object per consumer: durable, subject, ackFloor,
                         lastSequence, pending

${globalUsage}`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' } });
    const [subject = ''] = given.length === 0 ? [] : positionals(given, 'subject');
    const { consumers } = await clientsFrom(values).egress.listConsumers({ subject });
    if (consumers.length === 0 && !values.json) process.stderr.write(`mts: no consumers${subject ? ` on ${subject}` : ''}\n`);
    else await print(consumers, values.json);
  },
};

/** `mts consumer info|reset`: one durable consumer. */
export const consumerCommand: Command = {
  name: 'consumer',
  summary: "show (info) or move (reset) one durable consumer's position",
  words: ['info', 'reset'],
  usage: `Usage: mts consumer info <durable> <subject> [--json]
       mts consumer reset <durable> <subject> [--to SEQ] [--json]

info   the consumer's acknowledged sequence, the subject's last, and pending
reset  sets the acknowledged sequence to SEQ (default 0: it sees every stored
       message again); it may move back as well as forward. Needs a token
       with the admin permission when the services require tokens.
  --to SEQ               the new acknowledged sequence (reset only; default 0)
  --json                 one JSON object (the fields of mts consumers --json)

${globalUsage}

Example: mts consumer reset me demo.hello --to 10`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, { json: { type: 'boolean' }, to: { type: 'string' } });
    const [action, durableName, subject] = positionals(given, 'info|reset', 'durable', 'subject');
    const { egress } = clientsFrom(values);
    if (action === 'info') {
      if (values.to !== undefined) throw new UsageError('--to is for reset');
      await print([await egress.getConsumerInfo({ durableName, subject })], values.json);
    } else if (action === 'reset') {
      const sequence = BigInt(integerOption(values.to, 'to', 0, 0));
      await print([await egress.resetConsumer({ durableName, subject, sequence })], values.json);
    } else {
      throw new UsageError(`unknown action "${action}": use info or reset`);
    }
  },
};
