import { timestampDate } from '@bufbuild/protobuf/wkt';
import { AckPolicy, type ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { formatDuration } from '../platform/units.js';
import { deliverFlag } from './consumer-flags.js';
import { formatTable } from './table.js';

/** A configured consumer as `mts consumer info|ls|add --json` prints it: uint64 as strings, durations in ms. */
export function configuredConsumerJson(info: ConsumerInfo): string {
  const config = info.config!;
  return `${JSON.stringify({
    durable: info.durableName,
    filters: config.filterSubjects,
    ack: config.ackPolicy === AckPolicy.EXPLICIT ? 'explicit' : 'all',
    ackWaitMs: config.ackWaitMs.toString(),
    maxDeliver: config.maxDeliver,
    backoffMs: config.backoffMs.map(String),
    maxAckPending: config.maxAckPending,
    deliver: deliverOf(info),
    deadLetter: config.deadLetterSubject,
    delivered: info.delivered.toString(),
    pending: info.pending.toString(),
    ackPending: info.ackPending.toString(),
    redelivered: info.redelivered.toString(),
    deadLettered: info.deadLettered.toString(),
    waiting: info.waiting,
    lagMs: info.lagMs === undefined ? null : info.lagMs.toString(),
    positions: info.positions.map(({ subject, ackFloor, delivered, lastSequence }) => ({
      subject,
      ackFloor: ackFloor.toString(),
      delivered: delivered.toString(),
      lastSequence: lastSequence.toString(),
    })),
  })}\n`;
}

function deliverOf(info: ConsumerInfo): string {
  const { deliverPolicy, optStartSequence, optStartTime } = info.config!;
  return deliverFlag(deliverPolicy, optStartSequence, optStartTime && timestampDate(optStartTime).toISOString());
}

// Lag is a measured age, not a configured round figure: seconds with one decimal.
const lag = (info: ConsumerInfo) => (info.lagMs === undefined ? '-' : `${(Number(info.lagMs) / 1000).toFixed(1)}s`);

/** `mts consumer ls`: one row per configured consumer. */
export function configuredConsumersTable(infos: ConsumerInfo[]): string {
  const header = ['DURABLE', 'FILTERS', 'ACK', 'PENDING', 'ACK PENDING', 'REDELIVERED', 'DEAD', 'WAITING', 'LAG'];
  const rows = infos.map((info) => [
    info.durableName,
    info.config!.filterSubjects.join(','),
    info.config!.ackPolicy === AckPolicy.EXPLICIT ? 'explicit' : 'all',
    `${info.pending}`,
    `${info.ackPending}`,
    `${info.redelivered}`,
    `${info.deadLettered}`,
    `${info.waiting}`,
    lag(info),
  ]);
  return formatTable(header, rows);
}

/** `mts consumer info NAME`: the configuration, the figures, then one row per subject. */
export function configuredConsumerText(info: ConsumerInfo): string {
  const config = info.config!;
  const lines = [
    `consumer ${info.durableName}`,
    `  filters          ${config.filterSubjects.join(', ')}`,
    `  ack              ${config.ackPolicy === AckPolicy.EXPLICIT ? 'explicit' : 'all'}, wait ${formatDuration(Number(config.ackWaitMs))}`,
    `  max deliver      ${config.maxDeliver === 0 ? 'unlimited' : config.maxDeliver}`,
    ...(config.backoffMs.length > 0
      ? [`  backoff          ${config.backoffMs.map((step) => formatDuration(Number(step))).join(', ')}`]
      : []),
    `  max ack pending  ${config.maxAckPending}`,
    `  deliver          ${deliverOf(info)}`,
    `  dead letter      ${config.deadLetterSubject || '-'}`,
    `  delivered        ${info.delivered}`,
    `  pending          ${info.pending}`,
    `  ack pending      ${info.ackPending} (${info.redelivered} redelivered)`,
    `  dead-lettered    ${info.deadLettered}`,
    `  waiting streams  ${info.waiting}`,
    `  lag              ${lag(info)}`,
  ];
  const positions =
    info.positions.length === 0
      ? ''
      : formatTable(
          ['SUBJECT', 'ACKED', 'DELIVERED', 'LAST'],
          info.positions.map((position) => [position.subject, `${position.ackFloor}`, `${position.delivered}`, `${position.lastSequence}`]),
        );
  return `${lines.join('\n')}\n${positions}`;
}
