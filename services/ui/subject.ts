import { timestampDate, timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { formatBytes, formatTime, h, headedTable } from './dom.js';
import { liveTail } from './live-tail.js';
import { messageRow } from './message-row.js';
import { messageDetail } from './message-detail.js';
import { publishForm } from './publish-form.js';
import type { View, ViewContext } from './view.js';

const pageSize = 20;

/**
 * One subject: a message browser that pages both ways and jumps to a
 * sequence or a time through Browse (no consumer moves), the selected message in
 * detail, a live tail and a publish form.
 */
export function subjectView(context: ViewContext, subject: string): View {
  const stopped = new AbortController();
  const { egress } = context.clients;
  const summary = h('p', { class: 'muted', id: 'subject-summary' });
  const body = h('tbody');
  const detail = h('div', { id: 'message-detail' });
  const jump = h('input', { type: 'number', min: 1, id: 'jump-sequence', placeholder: 'sequence', 'aria-label': 'Jump to sequence' });
  const pageNote = h('p', { class: 'muted', id: 'page-note', role: 'status' });
  let page: Message[] = [];

  const show = (message: Message) => detail.replaceChildren(messageDetail(context, message));
  const load = async (position: { sequence: bigint } | { startTime: Timestamp }, backward: boolean) => {
    try {
      const { messages } = await egress.browse({ subject, ...position, backward, limit: pageSize }, { signal: stopped.signal });
      // An empty page past either end keeps the current one in view.
      pageNote.textContent = messages.length === 0 && page.length > 0 ? 'No messages there; this page stays.' : '';
      if (pageNote.textContent !== '') return;
      page = messages;
      body.replaceChildren(...messages.map((message) => messageRow(message, () => show(message))));
      if (messages[0] !== undefined) show(backward ? messages.at(-1)! : messages[0]);
      else detail.replaceChildren(h('p', { class: 'muted' }, 'No messages here.'));
    } catch (error) {
      if (!stopped.signal.aborted) context.reportError(error);
    }
  };
  const refreshSummary = async () => {
    try {
      const info = await egress.getSubjectInfo({ subject }, { signal: stopped.signal });
      summary.textContent = `${info.messages.toLocaleString()} messages · ${formatBytes(info.bytes)} · sequences ${info.firstSequence}–${info.lastSequence} · last publish ${formatTime(info.lastPublishTime && timestampDate(info.lastPublishTime))}`;
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) summary.textContent = 'Nothing was published on this subject yet.';
      else if (!stopped.signal.aborted) context.reportError(error);
    }
  };
  const button = (label: string, action: () => void, id: string) =>
    h('button', { type: 'button', class: 'secondary', id, onclick: action }, label);
  const controls = h(
    'form',
    { class: 'toolbar', 'aria-label': 'Browse' },
    jump,
    h('button', { type: 'submit' }, 'Go'),
    button('⇤ Oldest', () => void load({ sequence: 0n }, false), 'page-oldest'),
    button('← Older', () => page[0] && page[0].sequence > 1n && void load({ sequence: page[0].sequence - 1n }, true), 'page-older'),
    button('Newer →', () => page.length > 0 && void load({ sequence: page.at(-1)!.sequence + 1n }, false), 'page-newer'),
    button('Latest ⇥', () => void load({ sequence: 0n }, true), 'page-latest'),
  );
  controls.addEventListener('submit', (event) => {
    event.preventDefault();
    if (/^\d+$/.test(jump.value)) void load({ sequence: BigInt(jump.value) }, false);
  });
  const jumpTime = h('input', { type: 'datetime-local', step: 1, id: 'jump-time', 'aria-label': 'Jump to time' });
  const timeForm = h(
    'form',
    { class: 'toolbar', 'aria-label': 'Browse from a time' },
    jumpTime,
    h('button', { type: 'submit' }, 'Go to time'),
  );
  timeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const ms = new Date(jumpTime.value).getTime();
    if (Number.isFinite(ms)) void load({ startTime: timestampFromMs(ms) }, false);
  });

  void refreshSummary();
  void load({ sequence: 0n }, true);
  const tail = liveTail(context, subject, show, stopped.signal, () => void refreshSummary());
  const element = h(
    'div',
    { class: 'page subject' },
    h('h2', {}, h('a', { href: '#/' }, 'Subjects'), ' / ', h('span', { id: 'subject-name' }, subject)),
    summary,
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        { class: 'card', 'aria-label': 'Messages' },
        h('h3', {}, 'Messages'),
        controls,
        timeForm,
        pageNote,
        h('div', { class: 'scroll' }, headedTable('messages', ['#', 'Time', 'Size', 'Payload'], body)),
      ),
      detail,
    ),
    tail,
    publishForm(context, subject),
  );
  return { element, stop: () => stopped.abort() };
}
