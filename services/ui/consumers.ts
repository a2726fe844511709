import type { ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { configuredConsumerHeadings, configuredConsumerRow } from './configured-consumer-row.js';
import { h, headedTable } from './dom.js';
import { sparkline } from './sparkline.js';
import { tokenDenial } from './token-grants.js';
import { pollIntervalMs, repeat, type View, type ViewContext } from './view.js';

/** A consumer on a subject, as ListConsumers and ConsumerLagHistory name it (a configured consumer's subject is empty). */
const keyOf = ({ durableName, subject }: { durableName: string; subject: string }) => `${durableName}\u0000${subject}`;

interface ConsumerRow {
  row: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  /** Pending over the last hour, as egress sampled it. */
  trend: HTMLTableCellElement;
}

/**
 * Configured consumers (see configuredConsumerRow) above every other durable
 * consumer: ack floor, the subject's last sequence, pending
 * with its trend over the last hour (sampled by egress), and a reset of its position (the server asks for the admin permission).
 * Those rows update in place, so a reset being typed survives a poll.
 */
export function consumersView(context: ViewContext): View {
  const stopped = new AbortController();
  const body = h('tbody');
  const configuredBody = h('tbody');
  const configuredSection = h(
    'section',
    { hidden: true, 'aria-label': 'Configured consumers' },
    h('h3', {}, 'Configured consumers'),
    h('div', { class: 'scroll' }, headedTable('configured-consumers', configuredConsumerHeadings, configuredBody)),
  );
  // Named only next to configured consumers, which they are not.
  const legacyHeading = h('h3', { hidden: true }, 'Durables acknowledging by sequence');
  const empty = h('p', { class: 'muted' });
  const rows = new Map<string, ConsumerRow>();

  const poll = async () => {
    try {
      const [{ consumers }, lag] = await Promise.all([
        context.clients.egress.listConsumers({ subject: '' }, { signal: stopped.signal }),
        context.clients.egress.consumerLagHistory({ subject: '' }, { signal: stopped.signal }),
      ]);
      const trends = new Map(lag.consumers.map((entry) => [keyOf(entry), entry.samples]));
      const pendingTrend = (key: string) => (trends.get(key) ?? []).map((sample) => Number(sample.pending));
      const configured = consumers.filter((consumer) => consumer.config !== undefined);
      configuredBody.replaceChildren(...configured.map((consumer) => configuredConsumerRow(consumer, pendingTrend(keyOf(consumer)))));
      configuredSection.hidden = legacyHeading.hidden = configured.length === 0;
      const seen = new Set<string>();
      for (const consumer of consumers) {
        if (consumer.config !== undefined) continue;
        const key = keyOf(consumer);
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
        entry.trend.replaceChildren(sparkline(pendingTrend(key)));
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
    configuredSection,
    legacyHeading,
    h('div', { class: 'scroll' }, headedTable('consumers', headings, body)),
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
  const row = h(
    'tr',
    { 'data-consumer': `${durableName}/${subject}` },
    h('td', {}, durableName),
    h('td', {}, h('a', { href: `#/subject/${encodeURIComponent(subject)}` }, subject)),
    ...cells,
    trend,
    h('td', {}, reset),
  );
  return { row, cells, trend };
}
