import { Code, ConnectError } from '@connectrpc/connect';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { h } from './dom.js';
import { describeError } from './rpc.js';
import { messageRow } from './message-row.js';
import type { ViewContext } from './view.js';

/** Rows the tail keeps; older ones are dropped. */
const tailRows = 200;
/** Wait before following again after the stream broke. */
const retryMs = 2000;

/**
 * New messages as they are committed: Subscribe (with a start sequence, so
 * no durable is named or moved) says how far the subject got, Browse reads
 * what is new. Newest first; pausing ends the stream.
 */
export function liveTail(
  context: ViewContext,
  subject: string,
  select: (message: Message) => void,
  stopped: AbortSignal,
  onMessages: () => void,
): HTMLElement {
  const { egress } = context.clients;
  const body = h('tbody');
  const state = h('span', { class: 'muted', id: 'tail-state' });
  const toggle = h('button', { type: 'button', class: 'secondary', id: 'tail-toggle' });
  let following: AbortController | undefined;

  const follow = async (signal: AbortSignal) => {
    const last = await egress.getSubjectInfo({ subject }, { signal }).then(
      (info) => info.lastSequence,
      (error: unknown) => {
        if (ConnectError.from(error).code === Code.NotFound) return 0n;
        throw error;
      },
    );
    let next = last + 1n;
    state.textContent = `following from #${next}`;
    for await (const { sequence } of egress.subscribe({ subject, startSequence: next }, { signal })) {
      while (next <= sequence) {
        const { messages } = await egress.browse({ subject, sequence: next, limit: 100 }, { signal });
        if (messages.length === 0) break;
        body.prepend(...messages.reverse().map((message) => messageRow(message, () => select(message))));
        next = messages[0]!.sequence + 1n;
      }
      while (body.rows.length > tailRows) body.lastElementChild!.remove();
      onMessages();
    }
  };
  const start = () => {
    const controller = new AbortController();
    following = controller;
    toggle.textContent = 'Pause';
    const signal = AbortSignal.any([controller.signal, stopped]);
    follow(signal).catch((error: unknown) => {
      if (signal.aborted) return;
      context.reportError(error);
      const { code } = ConnectError.from(error);
      // Asking again cannot help a token that may not subscribe.
      if (code === Code.PermissionDenied || code === Code.Unauthenticated) {
        following = undefined;
        toggle.textContent = 'Follow';
        state.textContent = `stopped: ${describeError(error).text}`;
        return;
      }
      state.textContent = 'stream broken; following again shortly';
      setTimeout(() => following === controller && !signal.aborted && start(), retryMs);
    });
  };
  toggle.addEventListener('click', () => {
    if (following) {
      following.abort();
      following = undefined;
      toggle.textContent = 'Follow';
      state.textContent = 'paused';
    } else start();
  });
  start();

  return h(
    'section',
    { class: 'card', 'aria-label': 'Live tail' },
    h('h3', {}, 'Live tail ', toggle, ' ', state),
    h('div', { class: 'scroll' }, h('table', { id: 'tail' }, body)),
  );
}
