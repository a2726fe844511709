import { Code, ConnectError } from '@connectrpc/connect';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { deadLetterHeadings, deadLetterRow } from './dead-letter-row.js';
import { h, headedTable } from './dom.js';
import { messageDetail } from './message-detail.js';
import { tokenDenial } from './token-grants.js';
import { pollIntervalMs, repeat, type View, type ViewContext } from './view.js';

const pageSize = 50;

/**
 * Dead letters: the dead-letter subjects of the configured consumers (from
 * ListConsumers), and on one of them (`requested`, else the first) a page of
 * its messages read with Browse, the selected one in detail, and Redrive of
 * one message, a range or all of them (the server asks for the admin
 * permission). The page reloads when the subject's messages change.
 */
export function deadLettersView(context: ViewContext, requested: string): View {
  const stopped = new AbortController();
  const { signal } = stopped;
  const { egress } = context.clients;
  const subjectList = h('ul', { id: 'dead-letter-subjects', class: 'row plain' });
  const summary = h('p', { class: 'muted', id: 'dead-letter-summary' });
  const body = h('tbody');
  const detail = h('div', { id: 'message-detail' });
  const status = h('span', { class: 'muted', role: 'status', id: 'redrive-status' });
  const denial = tokenDenial('admin', '');
  let subject = requested;
  /** First sequence of the page shown; 0 is the subject's first. */
  let from = 0n;
  let shown: Message[] = [];
  /** The subject's figures when the page was last read: it is read again only when they change. */
  let readAt = '';

  const load = async () => {
    const { messages } = await egress.browse({ subject, sequence: from, limit: pageSize }, { signal });
    shown = messages;
    body.replaceChildren(
      ...messages.map((message) =>
        deadLetterRow(
          message,
          () => detail.replaceChildren(messageDetail(context, message)),
          () => void redrive(message.sequence, message.sequence),
          denial,
        ),
      ),
    );
  };

  const refresh = async (reload: boolean) => {
    const { consumers } = await egress.listConsumers({ subject: '' }, { signal });
    const durablesOf = new Map<string, string[]>();
    for (const consumer of consumers) {
      const deadLetterSubject = consumer.config?.deadLetterSubject ?? '';
      if (deadLetterSubject !== '') durablesOf.set(deadLetterSubject, [...(durablesOf.get(deadLetterSubject) ?? []), consumer.durableName]);
    }
    if (subject === '') subject = durablesOf.keys().next().value ?? '';
    subjectList.replaceChildren(
      ...[...durablesOf].map(([each, durables]) =>
        h(
          'li',
          {},
          h('a', { href: `#/dead-letters/${encodeURIComponent(each)}`, 'aria-current': each === subject ? 'page' : undefined }, each),
          h('span', { class: 'muted' }, ` of ${durables.join(', ')}`),
        ),
      ),
    );
    if (subject === '') {
      summary.textContent = 'No configured consumer has a dead-letter subject.';
      return;
    }
    let figures = 'none';
    try {
      const info = await egress.getSubjectInfo({ subject }, { signal });
      figures = `${info.messages} ${info.firstSequence} ${info.lastSequence}`;
      summary.textContent = `${subject}: ${info.messages.toLocaleString()} dead letters, sequences ${info.firstSequence}–${info.lastSequence}`;
    } catch (error) {
      if (ConnectError.from(error).code !== Code.NotFound) throw error;
      summary.textContent = `${subject}: no dead letters yet.`;
    }
    if (reload || figures !== readAt) {
      readAt = figures;
      await load();
    }
  };
  const reportUnlessStopped = (error: unknown) => {
    if (!signal.aborted) context.reportError(error);
  };

  const redrive = async (fromSequence: bigint, toSequence: bigint) => {
    status.textContent = 'redriving…';
    try {
      const { redriven } = await egress.redrive({ deadLetterSubject: subject, fromSequence, toSequence }, { signal });
      status.textContent = `redriven: ${redriven}`;
    } catch (error) {
      status.textContent = 'not redriven';
      return reportUnlessStopped(error);
    }
    detail.replaceChildren();
    await refresh(true).catch(reportUnlessStopped);
  };

  const bound = (name: string, label: string) =>
    h('input', { type: 'number', min: 1, name, placeholder: label, 'aria-label': `Redrive ${label}` });
  const [rangeFrom, rangeTo] = [bound('from', 'from sequence'), bound('to', 'to sequence')];
  const rangeForm = h(
    'form',
    { class: 'toolbar', id: 'redrive-range', 'aria-label': 'Redrive a range' },
    rangeFrom,
    rangeTo,
    h(
      'button',
      { type: 'submit', disabled: denial !== undefined, title: denial === undefined ? '' : `Redrive is disabled: ${denial}` },
      'Redrive range',
    ),
    h('span', { class: 'muted' }, 'empty bounds: the first, the last'),
    status,
  );
  rangeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const sequence = (input: HTMLInputElement) => (/^\d+$/.test(input.value) ? BigInt(input.value) : 0n);
    void redrive(sequence(rangeFrom), sequence(rangeTo));
  });
  const page = (label: string, id: string, next: () => bigint | undefined) =>
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        id,
        onclick: () => {
          const sequence = next();
          if (sequence === undefined) return;
          from = sequence;
          load().catch(reportUnlessStopped);
        },
      },
      label,
    );

  repeat(() => refresh(false).catch(reportUnlessStopped), pollIntervalMs, signal);
  const element = h(
    'div',
    { class: 'page dead-letters' },
    h('h2', {}, 'Dead letters'),
    subjectList,
    summary,
    h(
      'section',
      { class: 'card', 'aria-label': 'Dead letters' },
      rangeForm,
      h(
        'div',
        { class: 'toolbar' },
        page('⇤ First', 'dead-letters-first', () => 0n),
        page('Next →', 'dead-letters-next', () => (shown.length === pageSize ? shown.at(-1)!.sequence + 1n : undefined)),
      ),
      h('div', { class: 'scroll' }, headedTable('dead-letters', deadLetterHeadings, body)),
    ),
    // Below the table, not beside it: the table is wide with the dead-letter headers.
    detail,
  );
  return { element, stop: () => stopped.abort() };
}
