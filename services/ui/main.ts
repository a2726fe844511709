import { Code } from '@connectrpc/connect';
import { consumersView } from './consumers.js';
import { h } from './dom.js';
import { overviewView } from './overview.js';
import { deadLettersView } from './dead-letters.js';
import { createClients, describeError, savedToken, saveToken } from './rpc.js';
import { subjectView } from './subject.js';
import { themeSwitch } from './theme.js';
import type { View, ViewContext } from './view.js';

/**
 * The dashboard shell: header (pages, token, theme), one error line, and the
 * page named by the URL hash (#/, #/subject/<name>, #/consumers, #/dead-letters[/<subject>]).
 */
const config = (await (await fetch('config.json')).json()) as { ingressUrl: string };

const errorLine = h('p', { id: 'error', role: 'alert', hidden: true });
const tokenInput = h('input', {
  type: 'password',
  id: 'token',
  autocomplete: 'off',
  'aria-label': 'Bearer token',
  placeholder: 'bearer token',
});
const tokenNote = h('span', { class: 'muted' });
const tokenForm = h(
  'form',
  { id: 'token-form', class: 'card', hidden: true, 'aria-label': 'Token' },
  h('label', { for: 'token' }, 'Token '),
  tokenInput,
  h('button', { type: 'submit' }, 'Use token'),
  h('button', { type: 'button', class: 'secondary', onclick: () => useToken('') }, 'Forget'),
  tokenNote,
);
const main = h('main', { id: 'page' });

const context: ViewContext = {
  clients: createClients(config.ingressUrl),
  ingressUrl: config.ingressUrl,
  reportError(error) {
    const { code, text } = describeError(error);
    errorLine.textContent = text;
    errorLine.hidden = false;
    if (code === Code.Unauthenticated) openTokenForm('This server needs a token.');
  },
};

function openTokenForm(note: string): void {
  tokenNote.textContent = ` ${note}`;
  // Focus only on opening: polls that fail again must not pull focus while someone types.
  if (tokenForm.hidden) {
    tokenForm.hidden = false;
    tokenInput.focus();
  }
}

function useToken(token: string): void {
  saveToken(token.trim());
  tokenInput.value = '';
  tokenForm.hidden = true;
  render();
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  useToken(tokenInput.value);
});

let current: View | undefined;
function render(): void {
  current?.stop();
  errorLine.hidden = true;
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  if (hash.startsWith('subject/')) current = subjectView(context, hash.slice('subject/'.length));
  else if (hash === 'consumers') current = consumersView(context);
  else if (hash === 'dead-letters' || hash.startsWith('dead-letters/'))
    current = deadLettersView(context, hash.slice('dead-letters/'.length));
  else current = overviewView(context);
  main.replaceChildren(current.element);
}

const tokenButton = h('button', { type: 'button', class: 'secondary', id: 'token-button' }, 'Token');
tokenButton.addEventListener('click', () => {
  if (tokenForm.hidden) openTokenForm(savedToken() === '' ? 'No token in use.' : 'A token is in use for this tab.');
  else tokenForm.hidden = true;
});

document.body.append(
  h(
    'header',
    {},
    h('h1', {}, h('a', { href: '#/' }, 'MiniToolStream')),
    h(
      'nav',
      { 'aria-label': 'Pages' },
      h('a', { href: '#/' }, 'Subjects'),
      h('a', { href: '#/consumers' }, 'Consumers'),
      h('a', { href: '#/dead-letters' }, 'Dead letters'),
    ),
    h('div', { class: 'row' }, tokenButton, themeSwitch()),
  ),
  tokenForm,
  errorLine,
  main,
);
window.addEventListener('hashchange', render);
render();
