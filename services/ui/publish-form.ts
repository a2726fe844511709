import { h } from './dom.js';
import { tokenDenial } from './token-grants.js';
import type { ViewContext } from './view.js';

type Format = 'text' | 'json' | 'file';
const contentTypes = { text: 'text/plain; charset=utf-8', json: 'application/json' } as const;

/** A subject field and a submit button that is disabled, with the reason, while the token may not publish there. */
function publishControls(subject: string, label: string) {
  const subjectInput = h('input', { name: 'subject', required: true, value: subject, 'aria-label': 'Subject' });
  const submit = h('button', { type: 'submit' }, label);
  const status = h('span', { class: 'muted', role: 'status' });
  const checkGrant = () => {
    const denial = tokenDenial('publish', subjectInput.value.trim());
    submit.disabled = denial !== undefined;
    submit.title = denial === undefined ? '' : `Publishing is disabled: ${denial}`;
    status.textContent = submit.title;
  };
  subjectInput.addEventListener('input', checkGrant);
  checkGrant();
  return { subjectInput, submit, status };
}

/** Publishes and says where it went; a failure goes to the error line. */
async function publish(
  context: ViewContext,
  status: HTMLElement,
  message: { subject: string; data: Uint8Array; headers: Record<string, string> },
): Promise<void> {
  status.textContent = 'publishing…';
  try {
    const { sequence } = await context.clients.ingress.publish(message);
    status.textContent = `published to ${message.subject} as #${sequence}`;
  } catch (error) {
    status.textContent = 'not published';
    context.reportError(error);
  }
}

/** Publishes text, JSON (checked before it is sent) or a file to ingress. */
export function publishForm(context: ViewContext, subject: string): HTMLElement {
  const { subjectInput, submit, status } = publishControls(subject, 'Publish');
  const format = h(
    'select',
    { name: 'format', 'aria-label': 'Format' },
    h('option', { value: 'text' }, 'Text'),
    h('option', { value: 'json' }, 'JSON'),
    h('option', { value: 'file' }, 'File'),
  );
  const payload = h('textarea', { name: 'payload', rows: 4, 'aria-label': 'Payload', placeholder: 'payload' });
  const file = h('input', { type: 'file', name: 'file', 'aria-label': 'File', hidden: true });
  format.addEventListener('change', () => {
    payload.hidden = format.value === 'file';
    file.hidden = format.value !== 'file';
  });
  const form = h(
    'form',
    { class: 'card publish-form', 'aria-label': 'Publish' },
    h('h3', {}, 'Publish'),
    h('div', { class: 'row' }, subjectInput, format),
    payload,
    file,
    h('div', { class: 'row' }, submit, status),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const kind = format.value as Format;
      const chosen = file.files?.[0];
      if (kind === 'file' && chosen === undefined) {
        status.textContent = 'choose a file';
        return;
      }
      if (kind === 'json') {
        try {
          JSON.parse(payload.value);
        } catch (error) {
          status.textContent = `not JSON: ${(error as Error).message}`;
          return;
        }
      }
      const [data, contentType] =
        kind === 'file'
          ? [new Uint8Array(await chosen!.arrayBuffer()), chosen!.type || 'application/octet-stream']
          : [new TextEncoder().encode(payload.value), contentTypes[kind]];
      await publish(context, status, { subject: subjectInput.value.trim(), data, headers: { 'content-type': contentType } });
    })();
  });
  return form;
}

/** Publishes a copy of a message (payload and headers) to its subject or another one. */
export function republishForm(
  context: ViewContext,
  message: { subject: string; data: Uint8Array; headers: Record<string, string> },
): HTMLElement {
  const { subjectInput, submit, status } = publishControls(message.subject, 'Re-publish');
  // data-size is the server's to set.
  const { 'data-size': _size, ...headers } = message.headers;
  const form = h('form', { class: 'row republish', 'aria-label': 'Re-publish' }, subjectInput, submit, status);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void publish(context, status, { subject: subjectInput.value.trim(), data: message.data, headers });
  });
  return form;
}
