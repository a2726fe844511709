import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';

/** Text up to this size is printed inline; larger payloads are summarised. */
const inlineTextMaxBytes = 64 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// Control characters other than tab, newline and carriage return would garble a terminal.
const unprintable = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Writes to stdout and waits while the pipe is full, so large output never piles up in memory. */
export function writeStdout(chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(chunk, (error) => (error ? reject(error) : undefined))) resolve();
    else process.stdout.once('drain', resolve);
  });
}

/** The payload as text when it is UTF-8 without control characters, else undefined. */
export function printableText(data: Uint8Array): string | undefined {
  try {
    const text = strictUtf8.decode(data);
    return unprintable.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * One fetched message for people: a line with subject, sequence, size and
 * commit time, its headers indented, then the data when it is printable
 * text of at most 64 KiB (else a note saying how to save it).
 */
export function formatMessage(message: Message, options: { withData: boolean } = { withData: true }): string {
  const time = message.timestamp ? timestampDate(message.timestamp).toISOString() : '-';
  const lines = [`${message.subject} #${message.sequence}  ${message.data.length} bytes  ${time}`];
  for (const [name, value] of Object.entries(message.headers)) lines.push(`  ${name}: ${value}`);
  if (options.withData) {
    const text = message.data.length <= inlineTextMaxBytes ? printableText(message.data) : undefined;
    if (text !== undefined) lines.push(text.endsWith('\n') ? text.slice(0, -1) : text);
    else
      lines.push(
        `  (${message.data.length > inlineTextMaxBytes ? 'large' : 'binary'} data not shown; save it with: mts fetch ... --output FILE)`,
      );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One fetched message as a JSON line. Sequences are strings, as in the
 * protobuf JSON mapping (uint64 exceeds a JSON number); the payload is
 * `text` when printable, else `base64`; `extra` fields come first.
 */
export function messageJson(message: Message, extra: Record<string, unknown> = {}): string {
  const text = printableText(message.data);
  return `${JSON.stringify({
    ...extra,
    subject: message.subject,
    sequence: message.sequence.toString(),
    timestamp: message.timestamp ? timestampDate(message.timestamp).toISOString() : null,
    headers: message.headers,
    size: message.data.length,
    ...(text !== undefined ? { text } : { base64: Buffer.from(message.data).toString('base64') }),
  })}\n`;
}
