import type { ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { formatDuration, h } from './dom.js';
import { sparkline } from './sparkline.js';

export const configuredConsumerHeadings = [
  'Durable',
  'Filter subjects',
  'Pending',
  'Ack pending',
  'Redelivered',
  'Dead-lettered',
  'Lag',
  'Unsettled, last hour',
  'Positions',
];

/**
 * A configured consumer (one with `config`) as a row: messages not yet
 * delivered, delivered but not acked (and of those redelivered), moved to its
 * dead-letter subject (linked to the dead letters page), the age of the oldest
 * message not acked, the trend of what is not settled (last sequence minus
 * ack floor over its subjects, as egress samples it), and each subject's position.
 */
export function configuredConsumerRow(consumer: ConsumerInfo, unsettledTrend: number[]): HTMLTableRowElement {
  const deadLetterSubject = consumer.config?.deadLetterSubject ?? '';
  const number = (field: string, value: bigint) => h('td', { class: 'number', 'data-field': field }, String(value));
  return h(
    'tr',
    { 'data-consumer': `${consumer.durableName}/` },
    h('td', {}, consumer.durableName),
    h('td', { 'data-field': 'filters' }, (consumer.config?.filterSubjects ?? []).join(', ')),
    number('pending', consumer.pending),
    number('ack-pending', consumer.ackPending),
    number('redelivered', consumer.redelivered),
    h(
      'td',
      { class: 'number', 'data-field': 'dead-lettered' },
      deadLetterSubject === ''
        ? String(consumer.deadLettered)
        : h(
            'a',
            { href: `#/dead-letters/${encodeURIComponent(deadLetterSubject)}`, title: `Dead letters on ${deadLetterSubject}` },
            String(consumer.deadLettered),
          ),
    ),
    // Unset when every delivered message is acked: nothing waits.
    h('td', { class: 'number', 'data-field': 'lag' }, consumer.lagMs === undefined ? '—' : formatDuration(consumer.lagMs)),
    h('td', { class: 'trend' }, sparkline(unsettledTrend)),
    h(
      'td',
      { 'data-field': 'positions' },
      h(
        'ul',
        { class: 'plain' },
        ...consumer.positions.map((position) =>
          h(
            'li',
            { 'data-subject': position.subject },
            h('a', { href: `#/subject/${encodeURIComponent(position.subject)}` }, position.subject),
            ` ack floor ${position.ackFloor} · delivered ${position.delivered} · last ${position.lastSequence}`,
          ),
        ),
      ),
    ),
  );
}
