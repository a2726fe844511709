import { Code, ConnectError } from '@connectrpc/connect';

/** Limits on what a client may send, beyond the payload size. */
export const limits = {
  subjectMaxBytes: 255,
  durableMaxBytes: 255,
  headerMaxCount: 64,
  headerNameMaxBytes: 256,
  headerValueMaxBytes: 8 * 1024,
  headersMaxBytes: 64 * 1024,
  batchDefault: 10,
  batchMax: 1000,
} as const;

const utf8 = new TextEncoder();
// Whitespace and control characters never belong in a subject or name.
const forbiddenCharacter = /[\s\p{Cc}]/u;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/**
 * A publishable subject: 1-255 bytes of dot-separated tokens, no empty token,
 * no whitespace or control characters; `*` and `>` are reserved for patterns.
 */
export function checkSubject(subject: string): string {
  if (subject === '') throw invalid('subject is required');
  if (utf8.encode(subject).length > limits.subjectMaxBytes) throw invalid(`subject is longer than ${limits.subjectMaxBytes} bytes`);
  if (forbiddenCharacter.test(subject)) throw invalid('subject must not contain whitespace or control characters');
  if (subject.split('.').some((token) => token === '')) throw invalid(`subject "${subject}" has an empty token`);
  if (/[*>]/.test(subject)) throw invalid(`subject "${subject}" contains a wildcard (* or >), which is reserved for patterns`);
  return subject;
}

/** A durable consumer name: 1-255 bytes, no whitespace or control characters. */
export function checkDurableName(name: string): string {
  if (name === '') throw invalid('durable_name is required');
  if (utf8.encode(name).length > limits.durableMaxBytes) throw invalid(`durable_name is longer than ${limits.durableMaxBytes} bytes`);
  if (forbiddenCharacter.test(name)) throw invalid('durable_name must not contain whitespace or control characters');
  return name;
}

/** Headers bounded in count and size; names are non-empty and free of whitespace. */
export function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const entries = Object.entries(headers);
  if (entries.length > limits.headerMaxCount) throw invalid(`more than ${limits.headerMaxCount} headers`);
  let total = 0;
  for (const [name, value] of entries) {
    const nameBytes = utf8.encode(name).length;
    const valueBytes = utf8.encode(value).length;
    if (nameBytes === 0 || forbiddenCharacter.test(name))
      throw invalid(`header name "${name}" must be non-empty without whitespace or control characters`);
    if (nameBytes > limits.headerNameMaxBytes)
      throw invalid(`header name "${name.slice(0, 32)}…" is longer than ${limits.headerNameMaxBytes} bytes`);
    if (valueBytes > limits.headerValueMaxBytes) throw invalid(`header "${name}" is longer than ${limits.headerValueMaxBytes} bytes`);
    total += nameBytes + valueBytes;
  }
  if (total > limits.headersMaxBytes) throw invalid(`headers exceed ${limits.headersMaxBytes} bytes in all`);
  return headers;
}

/** 0 means the default; above the maximum is capped; negative is an error. */
export function batchSize(requested: number): number {
  if (requested < 0) throw invalid('batch_size must not be negative');
  if (requested === 0) return limits.batchDefault;
  return Math.min(requested, limits.batchMax);
}

/** A sequence a client names (ack): positive. */
export function checkSequence(sequence: bigint, field: string): bigint {
  if (sequence <= 0n) throw invalid(`${field} must be at least 1`);
  return sequence;
}
