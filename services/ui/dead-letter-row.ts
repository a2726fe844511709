import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { deadLetterHeaders, deliveryCountHeader } from '../store/consumer-headers.js';
import { h } from './dom.js';
import { messageRow } from './message-row.js';

export const deadLetterHeadings = ['#', 'Time', 'Size', 'Payload', 'From', 'Consumer', 'Reason', 'Deliveries', ''];

/**
 * A dead letter as a row: the message, then what the store added when it
 * moved it here (the original subject and sequence, the consumer, why, after
 * how many deliveries), and a button that redrives it alone. `denial` says
 * why the token may not redrive (the button is disabled with it).
 */
export function deadLetterRow(message: Message, select: () => void, redrive: () => void, denial: string | undefined): HTMLTableRowElement {
  const header = (name: string) => message.headers[name] ?? '—';
  const from = message.headers[deadLetterHeaders.subject];
  // Redrive skips a message without the header: it would not know where to send it.
  const why = denial ?? (from === undefined ? `no ${deadLetterHeaders.subject} header` : undefined);
  const button = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      disabled: why !== undefined,
      title: why === undefined ? `Redrive #${message.sequence} to ${from}` : `Redrive is disabled: ${why}`,
    },
    'Redrive',
  );
  button.addEventListener('click', (event) => {
    event.stopPropagation();
    redrive();
  });
  // The row selects on Enter and Space: the button keeps those keys for itself.
  button.addEventListener('keydown', (event) => event.stopPropagation());
  const cell = (field: string, ...content: (Node | string)[]) => h('td', { 'data-field': field }, ...content);
  return messageRow(message, select, [
    cell(
      'from',
      from === undefined ? '—' : h('a', { href: `#/subject/${encodeURIComponent(from)}` }, from),
      ` #${header(deadLetterHeaders.sequence)}`,
    ),
    cell('consumer', header(deadLetterHeaders.consumer)),
    cell('reason', header(deadLetterHeaders.reason)),
    h('td', { class: 'number', 'data-field': 'deliveries' }, header(deliveryCountHeader)),
    h('td', {}, button),
  ]);
}
