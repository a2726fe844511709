import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { SubjectInfo } from '../../gen/minitoolstream/egress_pb.js';
import { formatBytes, formatTime, h, headedTable } from './dom.js';
import { healthLine } from './health.js';
import { publishForm } from './publish-form.js';
import { sparkline } from './sparkline.js';
import { pollIntervalMs, repeat, type View, type ViewContext } from './view.js';

/** Rates kept per subject for its sparkline. */
const rateHistory = 30;

interface SubjectRow {
  row: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  rates: number[];
  lastSequence: bigint;
}

/**
 * Every subject with its counters and a live rate, service health, and a
 * publish form. Polls ListSubjects; rows are updated in place, so a long
 * table does not flicker or lose its scroll position.
 */
export function overviewView(context: ViewContext): View {
  const stopped = new AbortController();
  const filter = h('input', {
    type: 'search',
    id: 'subject-filter',
    placeholder: 'Filter: part of a name, or a pattern like orders.*',
    'aria-label': 'Filter subjects',
  });
  const body = h('tbody');
  const empty = h('p', { class: 'muted' });
  const health = h('ul', { class: 'health', 'aria-label': 'Service health' });
  const rows = new Map<string, SubjectRow>();
  let polledAt: number | undefined;

  const poll = async () => {
    const text = filter.value.trim();
    // A trailing * is a pattern the server matches; anything else filters by substring here.
    const pattern = text.endsWith('*') ? text : '';
    try {
      const { subjects } = await context.clients.egress.listSubjects({ pattern }, { signal: stopped.signal });
      const now = performance.now();
      const seconds = polledAt === undefined ? 0 : (now - polledAt) / 1000;
      polledAt = now;
      const shown = subjects.filter((info) => pattern !== '' || info.subject.includes(text));
      const seen = new Set<string>();
      for (const info of shown) {
        seen.add(info.subject);
        updateRow(rows, body, info, seconds);
      }
      for (const [subject, row] of rows) {
        if (!seen.has(subject)) {
          row.row.remove();
          rows.delete(subject);
        }
      }
      empty.textContent = shown.length === 0 ? (subjects.length === 0 ? 'No subjects yet: publish something.' : 'No subject matches.') : '';
    } catch (error) {
      if (!stopped.signal.aborted) context.reportError(error);
    }
  };
  const pollHealth = async () => {
    const lines = await Promise.all([
      healthLine('egress', location.origin, stopped.signal),
      healthLine('ingress', context.ingressUrl, stopped.signal),
    ]);
    health.replaceChildren(...lines);
  };
  filter.addEventListener('input', () => void poll());
  repeat(poll, pollIntervalMs, stopped.signal);
  repeat(pollHealth, pollIntervalMs * 5, stopped.signal);

  const headings = ['Subject', 'Messages', 'Bytes', 'First', 'Last', 'Last publish', 'Rate (msg/s)', ''];
  const element = h(
    'div',
    { class: 'page overview' },
    h('h2', {}, 'Subjects'),
    health,
    filter,
    h('div', { class: 'scroll' }, headedTable('subjects', headings, body)),
    empty,
    publishForm(context, ''),
  );
  return { element, stop: () => stopped.abort() };
}

function updateRow(rows: Map<string, SubjectRow>, body: HTMLTableSectionElement, info: SubjectInfo, seconds: number): void {
  let entry = rows.get(info.subject);
  if (entry === undefined) {
    const link = h('a', { href: `#/subject/${encodeURIComponent(info.subject)}` }, info.subject);
    const cells = Array.from({ length: 8 }, (_, index) => h('td', index === 0 ? {} : { class: 'number' }));
    cells[0]!.append(link);
    entry = { row: h('tr', { 'data-subject': info.subject }, ...cells), cells, rates: [], lastSequence: info.lastSequence };
    rows.set(info.subject, entry);
  }
  // Rows stay in the server's order (by name) as they are (re)appended.
  body.append(entry.row);
  if (seconds > 0) {
    entry.rates.push(Number(info.lastSequence - entry.lastSequence) / seconds);
    if (entry.rates.length > rateHistory) entry.rates.shift();
  }
  entry.lastSequence = info.lastSequence;
  const rate = entry.rates.at(-1);
  const values = [
    info.messages.toLocaleString(),
    formatBytes(info.bytes),
    String(info.firstSequence),
    String(info.lastSequence),
    formatTime(info.lastPublishTime && timestampDate(info.lastPublishTime)),
    rate === undefined ? '—' : rate.toFixed(1),
  ];
  values.forEach((value, index) => (entry.cells[index + 1]!.textContent = value));
  entry.cells[7]!.replaceChildren(sparkline(entry.rates));
}
