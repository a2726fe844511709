import { h } from './dom.js';
import { tokenDenial } from './token-grants.js';
import type { ViewContext } from './view.js';

const contentTypes = { text: 'text/plain; charset=utf-8', json: 'application/json' } as const;

/** Publishes text or JSON to ingress; JSON is checked before it is sent. */
export function publishForm(context: ViewContext, subject: string): HTMLElement {
  const subjectInput = h('input', { name: 'subject', required: true, value: subject, 'aria-label': 'Subject' });
  const format = h(
    'select',
    { name: 'format', 'aria-label': 'Format' },
    h('option', { value: 'text' }, 'Text'),
    h('option', { value: 'json' }, 'JSON'),
  );
  const payload = h('textarea', { name: 'payload', rows: 4, 'aria-label': 'Payload', placeholder: 'payload' });
  const status = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit' }, 'Publish');
  // Disabled, with the reason, when the token would be refused.
  const checkGrant = () => {
    const denial = tokenDenial('publish', subjectInput.value.trim());
    submit.disabled = denial !== undefined;
    submit.title = denial === undefined ? '' : `Publishing is disabled: ${denial}`;
    status.textContent = submit.title;
  };
  subjectInput.addEventListener('input', checkGrant);
  const form = h(
    'form',
    { class: 'card publish-form', 'aria-label': 'Publish' },
    h('h3', {}, 'Publish'),
    h('div', { class: 'row' }, subjectInput, format),
    payload,
    h('div', { class: 'row' }, submit, status),
  );
  checkGrant();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const kind = format.value as keyof typeof contentTypes;
    if (kind === 'json') {
      try {
        JSON.parse(payload.value);
      } catch (error) {
        status.textContent = `not JSON: ${(error as Error).message}`;
        return;
      }
    }
    status.textContent = 'publishing…';
    context.clients.ingress
      .publish({
        subject: subjectInput.value.trim(),
        data: new TextEncoder().encode(payload.value),
        headers: { 'content-type': contentTypes[kind] },
      })
      .then(
        ({ sequence }) => (status.textContent = `published as #${sequence}`),
        (error: unknown) => {
          status.textContent = 'not published';
          context.reportError(error);
        },
      );
  });
  return form;
}
