import type { ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { h } from './dom.js';
import { sparkline } from './sparkline.js';
import { tokenDenial } from './token-grants.js';
import { pollIntervalMs, repeat, type View, type ViewContext } from './view.js';

interface ConsumerRow {
  row: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  /** Pending over the last hour, as egress sampled it. */
  trend: HTMLTableCellElement;
}

/**
 * Every durable consumer: ack floor, the subject's last sequence, pending
 * with its trend over the last hour (sampled by egress), and a reset of its position (the server asks for the admin permission).
 * Rows update in place, so a reset being typed survives a poll.
 */
export function consumersView(context: ViewContext): View {
  const stopped = new AbortController();
  const body = h('tbody');
  const empty = h('p', { class: 'muted' });
  const rows = new Map<string, ConsumerRow>();

  const poll = async () => {
    try {
      const [{ consumers }, lag] = await Promise.all([
        context.clients.egress.listConsumers({ subject: '' }, { signal: stopped.signal }),
        context.clients.egress.consumerLagHistory({ subject: '' }, { signal: stopped.signal }),
      ]);
      const trends = new Map(lag.consumers.map((entry) => [`${entry.durableName}\u0000${entry.subject}`, entry.samples]));
      const seen = new Set<string>();
      for (const consumer of consumers) {
        const key = `${consumer.durableName}\u0000${consumer.subject}`;
        seen.add(key);
        let entry = rows.get(key);
        if (entry === undefined) {
          entry = newRow(context, consumer, () => void poll());
          rows.set(key, entry);
        }
        body.append(entry.row);
        [consumer.ackFloor, consumer.lastSequence, consumer.pending].forEach(
          (value, index) => (entry.cells[index]!.textContent = String(value)),
        );
        entry.trend.replaceChildren(sparkline((trends.get(key) ?? []).map((sample) => Number(sample.pending))));
      }
      for (const [key, entry] of rows) {
        if (!seen.has(key)) {
          entry.row.remove();
          rows.delete(key);
        }
      }
      empty.textContent = consumers.length === 0 ? 'No durable consumer has acknowledged anything yet.' : '';
    } catch (error) {
      if (!stopped.signal.aborted) context.reportError(error);
    }
  };
  repeat(poll, pollIntervalMs, stopped.signal);

  const headings = ['Durable', 'Subject', 'Ack floor', 'Last sequence', 'Pending', 'Pending, last hour', 'Reset to'];
  const element = h(
    'div',
    { class: 'page consumers' },
    h('h2', {}, 'Consumers'),
    h(
      'div',
      { class: 'scroll' },
      h('table', { id: 'consumers' }, h('thead', {}, h('tr', {}, ...headings.map((heading) => h('th', { scope: 'col' }, heading)))), body),
    ),
    empty,
  );
  return { element, stop: () => stopped.abort() };
}

function newRow(context: ViewContext, consumer: ConsumerInfo, refresh: () => void): ConsumerRow {
  const { durableName, subject } = consumer;
  const cells = [h('td', { class: 'number' }), h('td', { class: 'number' }), h('td', { class: 'number' })];
  const trend = h('td', { class: 'trend' });
  const sequence = h('input', { type: 'number', min: 0, required: true, 'aria-label': `New ack floor of ${durableName} on ${subject}` });
  const denial = tokenDenial('admin', subject);
  const reset = h(
    'form',
    { class: 'row' },
    sequence,
    h(
      'button',
      {
        type: 'submit',
        class: 'secondary',
        disabled: denial !== undefined,
        title: denial === undefined ? '' : `Reset is disabled: ${denial}`,
      },
      'Reset',
    ),
  );
  reset.addEventListener('submit', (event) => {
    event.preventDefault();
    context.clients.egress.resetConsumer({ durableName, subject, sequence: BigInt(sequence.value) }).then(() => {
      sequence.value = '';
      refresh();
    }, context.reportError);
  });
  // A configured consumer (subject empty) has filters instead of a subject, and no one position to reset.
  const configured = consumer.config !== undefined;
  const row = h(
    'tr',
    { 'data-consumer': `${durableName}/${subject}` },
    h('td', {}, durableName),
    h(
      'td',
      {},
      configured ? consumer.config!.filterSubjects.join(', ') : h('a', { href: `#/subject/${encodeURIComponent(subject)}` }, subject),
    ),
    ...cells,
    trend,
    h('td', {}, configured ? '' : reset),
  );
  return { row, cells, trend };
}
