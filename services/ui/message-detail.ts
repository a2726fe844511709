import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { formatBytes, formatTime, h } from './dom.js';
import { republishForm } from './publish-form.js';
import type { ViewContext } from './view.js';
import { defaultMode, payloadModes, renderPayload, shownMaxBytes, toBase64, type PayloadMode } from './payload.js';

/**
 * One message: its payload in the chosen view (text, JSON, hex, base64),
 * headers, copy, a download link (the only way to see all of a payload too
 * large to show whole), and re-publishing it.
 */
export function messageDetail(context: ViewContext, message: Message): HTMLElement {
  const shown = message.data.subarray(0, shownMaxBytes);
  let mode: PayloadMode = defaultMode(shown);
  const body = h('div', { class: 'payload-body' });
  const tabs = payloadModes.map((each) =>
    h('button', { type: 'button', class: 'tab', 'data-mode': each, onclick: () => select(each) }, each.toUpperCase()),
  );
  const select = (next: PayloadMode) => {
    mode = next;
    for (const tab of tabs) tab.setAttribute('aria-pressed', String(tab.dataset.mode === mode));
    body.replaceChildren(renderPayload(shown, mode));
  };
  select(mode);

  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
  copy.addEventListener('click', () => {
    const text = mode === 'base64' ? toBase64(message.data) : new TextDecoder().decode(message.data);
    navigator.clipboard.writeText(text).then(
      () => (copy.textContent = 'Copied'),
      () => (copy.textContent = 'Copy refused by the browser'),
    );
  });
  const cut = message.data.length > shown.length;
  const download = h(
    'a',
    {
      href: URL.createObjectURL(new Blob([message.data as Uint8Array<ArrayBuffer>])),
      download: `${message.subject}-${message.sequence}.bin`,
    },
    'Download',
  );
  const headers = Object.entries(message.headers).sort(([a], [b]) => a.localeCompare(b));

  return h(
    'section',
    { class: 'card message-detail', 'aria-label': `Message ${message.sequence}` },
    h(
      'h3',
      {},
      `#${message.sequence}`,
      h(
        'span',
        { class: 'muted' },
        ` ${formatTime(message.timestamp && timestampDate(message.timestamp))} · ${formatBytes(message.data.length)}`,
      ),
    ),
    h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Payload view' }, ...tabs, copy, download),
    cut ? h('p', { class: 'notice' }, `Showing the first ${formatBytes(shown.length)} of ${formatBytes(message.data.length)}.`) : null,
    body,
    h('h4', {}, 'Headers'),
    headers.length === 0
      ? h('p', { class: 'muted' }, 'none')
      : h(
          'table',
          { class: 'headers' },
          h('tbody', {}, ...headers.map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, value)))),
        ),
    h('h4', {}, 'Re-publish'),
    republishForm(context, message),
  );
}
