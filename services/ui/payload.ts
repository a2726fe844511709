import { h } from './dom.js';

export type PayloadMode = 'text' | 'json' | 'hex' | 'base64';
export const payloadModes: PayloadMode[] = ['text', 'json', 'hex', 'base64'];

/** Larger payloads are shown cut to this many bytes, with a download link for the whole. */
export const shownMaxBytes = 256 * 1024;

/** JSON when it parses, text when it is UTF-8, else hex. */
export function defaultMode(data: Uint8Array): PayloadMode {
  const text = utf8(data);
  if (text === undefined) return 'hex';
  try {
    JSON.parse(text);
    return 'json';
  } catch {
    return 'text';
  }
}

/** The payload in one mode; JSON as a collapsible tree. */
export function renderPayload(data: Uint8Array, mode: PayloadMode): Node {
  switch (mode) {
    case 'text':
      return h('pre', { class: 'payload' }, new TextDecoder().decode(data));
    case 'json':
      return jsonView(new TextDecoder().decode(data));
    case 'hex':
      return h('pre', { class: 'payload' }, hexDump(data));
    case 'base64':
      return h('pre', { class: 'payload wrap' }, toBase64(data));
  }
}

function utf8(data: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}

function jsonView(text: string): Node {
  try {
    return h('div', { class: 'payload json' }, jsonNode(undefined, JSON.parse(text)));
  } catch (error) {
    return h('p', { class: 'notice' }, `not JSON: ${(error as Error).message}`);
  }
}

function jsonNode(key: string | undefined, value: unknown): Node {
  const label = key === undefined ? '' : `${JSON.stringify(key)}: `;
  if (value === null || typeof value !== 'object') {
    return h('div', { class: `json-leaf json-${value === null ? 'null' : typeof value}` }, label + JSON.stringify(value));
  }
  const isArray = Array.isArray(value);
  const entries: [string | undefined, unknown][] = isArray
    ? value.map((item) => [undefined, item])
    : Object.entries(value as Record<string, unknown>);
  const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
  return h(
    'details',
    { open: true, class: 'json-node' },
    h(
      'summary',
      {},
      `${label}${open}`,
      h('span', { class: 'muted' }, ` ${entries.length} ${isArray ? 'item' : 'key'}${entries.length === 1 ? '' : 's'}`),
    ),
    ...entries.map(([name, item]) => jsonNode(name, item)),
    h('div', {}, close),
  );
}

/** Offset, 16 bytes in hex, and their printable ASCII. */
export function hexDump(data: Uint8Array): string {
  const lines: string[] = [];
  for (let offset = 0; offset < data.length; offset += 16) {
    const row = data.subarray(offset, offset + 16);
    const hex = Array.from(row, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

export function toBase64(data: Uint8Array): string {
  let binary = '';
  // In slices: spreading a large array into one call overflows the stack.
  for (let offset = 0; offset < data.length; offset += 0x8000) {
    binary += String.fromCharCode(...data.subarray(offset, offset + 0x8000));
  }
  return btoa(binary);
}
