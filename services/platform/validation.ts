import { Code, ConnectError } from '@connectrpc/connect';
import { expectedLastSequenceHeader } from '../store/store.js';

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

// UTF-8 length without encoding: a lone surrogate counts 3 bytes, as its replacement character does when encoded.
const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
// Whitespace and control characters never belong in a subject or name.
const forbiddenCharacter = /[\s\p{Cc}]/u;
// RFC 9110 token characters: a header name any HTTP hop would carry unchanged.
const httpToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A header value is text: any well-formed Unicode without control characters (CR, LF, NUL, DEL, C1...).
const controlCharacter = /\p{Cc}/u;
// The object store receives content-type as an HTTP header: visible ASCII, inner spaces, nothing around.
const contentTypeValue = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

// In a `u` pattern a surrogate pair is one code point, so this matches only a lone half.
const loneSurrogate = /[\uD800-\uDFFF]/u;

/** Text the wire can carry unchanged: no lone UTF-16 surrogate (JSON can smuggle one in). */
function checkWellFormed(text: string, what: string): void {
  if (loneSurrogate.test(text)) throw invalid(`${what} is not well-formed Unicode`);
}

/**
 * A publishable subject: 1-255 bytes of dot-separated tokens, no empty token,
 * no whitespace or control characters; `*` and `>` are reserved for patterns.
 * Any other character (`/`, `:`, `-`, `_`, `%`, non-ASCII) is allowed: storage
 * never uses the raw subject as a file name or object key.
 */
export function checkSubject(subject: string, field = 'subject'): string {
  checkSubjectText(subject, field);
  if (/[*>]/.test(subject)) throw invalid(`${field} "${subject}" contains a wildcard (* or >), which is reserved for patterns`);
  return subject;
}

/**
 * A consumer's filter: a subject whose tokens may be NATS wildcards, `*` for
 * one token anywhere and `>` for one or more tokens at the end only.
 */
export function checkFilterSubject(filter: string, field: string): string {
  checkSubjectText(filter, field);
  const tokens = filter.split('.');
  tokens.forEach((token, index) => {
    if (token === '>' && index !== tokens.length - 1) throw invalid(`${field} "${filter}": > may only be the last token`);
    if (token !== '*' && token !== '>' && /[*>]/.test(token)) throw invalid(`${field} "${filter}": * and > must be whole tokens`);
  });
  return filter;
}

/** What subjects and filters share: 1-255 bytes, no whitespace or control character, no empty token. */
function checkSubjectText(subject: string, field: string): void {
  if (subject === '') throw invalid(`${field} is required`);
  checkWellFormed(subject, field);
  if (utf8Bytes(subject) > limits.subjectMaxBytes) throw invalid(`${field} is longer than ${limits.subjectMaxBytes} bytes`);
  if (forbiddenCharacter.test(subject)) throw invalid(`${field} must not contain whitespace or control characters`);
  if (subject.split('.').some((token) => token === '')) throw invalid(`${field} "${subject}" has an empty token`);
}

/** A durable consumer name: 1-255 bytes, no whitespace or control characters. */
export function checkDurableName(name: string): string {
  if (name === '') throw invalid('durable_name is required');
  checkWellFormed(name, 'durable_name');
  if (utf8Bytes(name) > limits.durableMaxBytes) throw invalid(`durable_name is longer than ${limits.durableMaxBytes} bytes`);
  if (forbiddenCharacter.test(name)) throw invalid('durable_name must not contain whitespace or control characters');
  return name;
}

/**
 * Headers bounded in count and size and safe as HTTP fields, so every backend
 * accepts the same set and returns it byte-exact: names are HTTP tokens,
 * values are Unicode text without control characters, and `content-type`
 * (which becomes the payload object's content type) is visible ASCII with
 * inner spaces only, or empty for the default.
 */
export function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const entries = Object.entries(headers);
  if (entries.length > limits.headerMaxCount) throw invalid(`more than ${limits.headerMaxCount} headers`);
  let total = 0;
  for (const [name, value] of entries) {
    checkWellFormed(name, 'a header name');
    checkWellFormed(value, `header "${name}"`);
    const nameBytes = utf8Bytes(name);
    const valueBytes = utf8Bytes(value);
    if (!httpToken.test(name))
      throw invalid(`header name "${name.slice(0, 32)}" must be a non-empty HTTP token (letters, digits, !#$%&'*+-.^_\`|~)`);
    if (nameBytes > limits.headerNameMaxBytes)
      throw invalid(`header name "${name.slice(0, 32)}…" is longer than ${limits.headerNameMaxBytes} bytes`);
    if (valueBytes > limits.headerValueMaxBytes) throw invalid(`header "${name}" is longer than ${limits.headerValueMaxBytes} bytes`);
    if (controlCharacter.test(value)) throw invalid(`header "${name}" contains a control character (CR, LF, NUL, DEL or similar)`);
    if (name.toLowerCase() === 'content-type' && !contentTypeValue.test(value))
      throw invalid(`header "${name}" must be visible ASCII with no surrounding spaces (it becomes the object's content type)`);
    if (name === expectedLastSequenceHeader && !isUint64(value))
      throw invalid(`header "${name}" must be a sequence: decimal digits, at most ${maxUint64}`);
    total += nameBytes + valueBytes;
  }
  if (total > limits.headersMaxBytes) throw invalid(`headers exceed ${limits.headersMaxBytes} bytes in all`);
  return headers;
}

const maxUint64 = 2n ** 64n - 1n;

function isUint64(text: string): boolean {
  return /^\d{1,20}$/.test(text) && BigInt(text) <= maxUint64;
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
