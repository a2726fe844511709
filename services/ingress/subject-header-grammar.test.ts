import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { checkHeaders, checkSubject } from '../platform/validation.js';
import { dataSizeHeader } from '../store/publish-messages.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { payload } from '../testing/conformance-harness.js';
import { embeddedBackend } from '../testing/embedded-backend.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import type { TestBackend } from '../testing/test-backend.js';
import { egressClient, startTestServices, transportFor } from '../testing/test-services.js';

interface GrammarCase {
  subject: string;
  headers: Record<string, string>;
}

// Over the inline limit (64 KiB), so every accepted case also writes an object.
const objectBytes = 64 * 1024 + 1;

// The cases of the abuse report, and the edges of the grammar around them.
const reported: GrammarCase[] = [
  ...['/x', 'x/', '//x', 'a/./b', 'a/..', '%2F', 'x%', 'a:b', 'é.ü', '😀', "a'b(c)!~", 'a-b_c/d:e.0.9'].map((subject) => ({
    subject,
    headers: {},
  })),
  ...['a..b', '.a', 'a.', 'a b', 'a\tb', 'a\u0000', 'a.*', 'a.>'].map((subject) => ({ subject, headers: {} })),
  ...['a\r\nb', 'text/plain\u007f', 'text/€', 'text/é', ' text/plain', 'text/plain ', '', 'text/plain; charset=utf-8'].map((value) => ({
    subject: 'ct',
    headers: { 'content-type': value },
  })),
  { subject: 'h', headers: { 'x-name': 'é € 😀 ÿ' } },
  { subject: 'h', headers: { 'x-name': 'a\nb' } },
  { subject: 'h', headers: { 'x-name': 'a\u0085b' } },
  { subject: 'h', headers: { 'x name': 'v' } },
  { subject: 'h', headers: { 'x:name': 'v' } },
  { subject: 'h', headers: { é: 'v' } },
  { subject: 'h', headers: { 'Content-Type': 'text/\r\nplain' } },
];

const subjectPieces = [
  'a',
  'Z',
  '0',
  '.',
  '/',
  ':',
  '-',
  '_',
  '%',
  '%2F',
  'é',
  '€',
  '😀',
  "'",
  '~',
  ' ',
  '\n',
  '\u0000',
  '\u007f',
  '*',
  '>',
];
const headerNames = ['content-type', 'Content-Type', 'x-id', 'trace_id', 'x id', 'x:id', 'é', ''];
const headerValues = ['text/plain', 'text/plain; charset=utf-8', ' text/plain', 'a\r\nb', '\u007f', 'é', '€', '😀', '', 'v\tw'];

/** A small deterministic generator, so a failing case can be reproduced. */
function seeded(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return Math.floor((((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32) * below);
  };
}

function generated(count: number, seed: number): GrammarCase[] {
  const next = seeded(seed);
  const pick = <T>(from: T[]): T => from[next(from.length)]!;
  return Array.from({ length: count }, () => {
    const subject = Array.from({ length: 1 + next(6) }, () => pick(subjectPieces)).join('');
    const headers = Object.fromEntries(Array.from({ length: next(3) }, () => [pick(headerNames), pick(headerValues)]));
    return { subject, headers };
  });
}

const cases = [...reported, ...generated(150, 10)];

/** What the validators alone say: `ok` or the code name. */
function expected({ subject, headers }: GrammarCase): string {
  try {
    checkSubject(subject);
    checkHeaders(headers);
    return 'ok';
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

/**
 * Publishes every case over Connect JSON and reads each accepted one back.
 * (Lone surrogates are left to the unit test: clients replace them before sending.)
 */
async function answers(t: TestContext, backend: TestBackend): Promise<string[]> {
  const services = await startTestServices(t, { backend });
  const ingress = createClient(IngressService, transportFor(services.ingress.url, 'connect'));
  const egress = egressClient(services, 'connect');
  const outcomes: string[] = [];
  for (const [index, grammarCase] of cases.entries()) {
    const data = payload(objectBytes + index, index);
    let sequence: bigint;
    try {
      ({ sequence } = await ingress.publish({ ...grammarCase, data }));
    } catch (error) {
      outcomes.push(Code[ConnectError.from(error).code]);
      continue;
    }
    outcomes.push('ok');
    const what = `case ${index} ${JSON.stringify(grammarCase)} on ${backend.name}`;
    let found = false;
    for await (const message of egress.fetch({ subject: grammarCase.subject, durableName: `grammar-${index}`, batchSize: 1000 })) {
      if (message.sequence !== sequence) continue;
      found = true;
      assert.equal(message.subject, grammarCase.subject, what);
      assert.deepEqual(message.headers, { ...grammarCase.headers, [dataSizeHeader]: String(data.byteLength) }, what);
      assertSameBytes(message.data, data, what);
    }
    assert.ok(found, `${what}: sequence ${sequence} was not fetched`);
  }
  return outcomes;
}

test('every subject and header gets the same answer on both backends, and accepted ones round-trip exactly', async (t) => {
  const byBackend = new Map<string, string[]>();
  for (const backend of [embeddedBackend, tarantoolBackend]) {
    await t.test(backend.name, async (bt) => {
      const outcomes = await answers(bt, backend);
      for (const [index, outcome] of outcomes.entries()) {
        assert.equal(outcome, expected(cases[index]!), `case ${index} ${JSON.stringify(cases[index])} on ${backend.name}`);
      }
      byBackend.set(backend.name, outcomes);
    });
  }
  assert.deepEqual(byBackend.get('tarantool'), byBackend.get('embedded'));
  const outcomes = byBackend.get('embedded')!;
  // The report's subjects work everywhere; its content types are refused everywhere.
  assert.deepEqual(outcomes.slice(0, 3), ['ok', 'ok', 'ok']);
  for (const value of ['a\r\nb', 'text/plain\u007f', 'text/€', 'text/é']) {
    const index = cases.findIndex((entry) => entry.headers['content-type'] === value);
    assert.equal(outcomes[index], Code[Code.InvalidArgument], `content-type ${JSON.stringify(value)}`);
  }
  assert.ok(outcomes.filter((outcome) => outcome === 'ok').length >= 20, 'the generator also produces accepted cases');
});
