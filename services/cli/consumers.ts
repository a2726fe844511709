import type { ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { globalUsage, integerOption, parseCommand, positionals, UsageError } from './args.js';
import { clientsFrom, type Command } from './command.js';
import { configuredConsumerJson, configuredConsumersTable, configuredConsumerText } from './configured-consumers.js';
import { consumerConfigFromFlags, consumerFlags, consumerFlagsUsage } from './consumer-flags.js';
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
  // A configured consumer has no one subject: its filters, its figures summed over them.
  info.subject || (info.config?.filterSubjects.join(',') ?? ''),
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

const printConfigured = (infos: ConsumerInfo[], json: boolean | undefined) =>
  writeStdout(json ? infos.map(configuredConsumerJson).join('') : infos.map(configuredConsumerText).join('\n'));

/** `mts consumer add|info|ls|rm|reset`: configured consumers, and one durable's position on a subject. */
export const consumerCommand: Command = {
  name: 'consumer',
  summary: 'configure durable consumers that share work (add, info, ls, rm), or move one (reset)',
  words: ['add', 'info', 'ls', 'rm', 'reset'],
  usage: `Usage: mts consumer add <name> --filter SUBJECT [--filter ...] [--ack explicit|all]
                    [--ack-wait 30s] [--max-deliver N] [--backoff 1s,5s,30s]
                    [--max-ack-pending N] [--deliver all|new|last|seq:N|time:ISO]
                    [--dead-letter SUBJECT] [--json]
       mts consumer info <name> [--json]
       mts consumer ls [--json]
       mts consumer rm <name>
       mts consumer info <durable> <subject> [--json]
       mts consumer reset <durable> <subject> [--to SEQ] [--json]

add    configures a consumer that many "mts consume" workers (or Consume
       streams) share; the same configuration again is accepted, a different
       one is refused naming what differs
info   a configured consumer: configuration, pending, ack pending,
       redeliveries, dead letters, lag and its position on each subject; with
       a subject, a durable's acknowledged sequence on it (any durable)
ls     every configured consumer
rm     deletes a configured consumer with its positions and pending leases
reset  sets a durable's acknowledged sequence on a subject to SEQ (default 0:
       it sees every stored message again); it may move back as well as forward
add, rm and reset need a token with the admin permission when the services
require tokens.
${consumerFlagsUsage}
  --to SEQ               the new acknowledged sequence (reset only; default 0)
  --json                 one JSON object per consumer

${globalUsage}

Example: mts consumer add workers --filter 'orders.*' --ack explicit --max-deliver 5 --dead-letter orders-dead`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, {
      json: { type: 'boolean' },
      to: { type: 'string' },
      ...consumerFlags,
    });
    const { egress } = clientsFrom(values);
    const action = given[0];
    if (values.to !== undefined && action !== 'reset') throw new UsageError('--to is for reset');
    if (action === 'add') {
      const [, name] = positionals(given, 'add', 'name');
      await printConfigured([await egress.createConsumer({ config: consumerConfigFromFlags(name!, values) })], values.json);
    } else if (action === 'ls') {
      positionals(given, 'ls');
      const configured = (await egress.listConsumers({ subject: '' })).consumers.filter((info) => info.config !== undefined);
      if (configured.length === 0 && !values.json) process.stderr.write('mts: no configured consumers\n');
      else await writeStdout(values.json ? configured.map(configuredConsumerJson).join('') : configuredConsumersTable(configured));
    } else if (action === 'rm') {
      const [, durableName] = positionals(given, 'rm', 'name');
      await egress.deleteConsumer({ durableName });
      await writeStdout(`removed consumer ${durableName}\n`);
    } else if (action === 'info' && given.length === 2) {
      await printConfigured([await egress.getConsumerInfo({ durableName: given[1]!, subject: '' })], values.json);
    } else if (action === 'info') {
      const [, durableName, subject] = positionals(given, 'info', 'durable', 'subject');
      await print([await egress.getConsumerInfo({ durableName, subject })], values.json);
    } else if (action === 'reset') {
      const [, durableName, subject] = positionals(given, 'reset', 'durable', 'subject');
      const sequence = BigInt(integerOption(values.to, 'to', 0, 0));
      await print([await egress.resetConsumer({ durableName, subject, sequence })], values.json);
    } else {
      throw new UsageError(
        action === undefined ? 'missing <add|info|ls|rm|reset>' : `unknown action "${action}": use add, info, ls, rm or reset`,
      );
    }
  },
};
