import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { formatBytes, formatTime, h } from './dom.js';

/** A message as a table row: sequence, time, size, the start of its payload, then `moreCells`. */
export function messageRow(message: Message, select: () => void, moreCells: HTMLTableCellElement[] = []): HTMLTableRowElement {
  const preview = new TextDecoder().decode(message.data.subarray(0, 80)).replace(/\s+/g, ' ');
  const row = h(
    'tr',
    { tabindex: 0, 'data-sequence': String(message.sequence), onclick: select },
    h('td', { class: 'number' }, String(message.sequence)),
    h('td', {}, formatTime(message.timestamp && timestampDate(message.timestamp))),
    h('td', { class: 'number' }, formatBytes(message.data.length)),
    h('td', { class: 'preview' }, preview),
    ...moreCells,
  );
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select();
    }
  });
  return row;
}
