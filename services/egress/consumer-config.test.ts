import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { AckPolicy, ConsumerConfigSchema, DeliverPolicy } from '../../gen/minitoolstream/egress_pb.js';
import { consumerConfigFromWire, consumerConfigToWire } from './consumer-config.js';

type Wire = Parameters<typeof create<typeof ConsumerConfigSchema>>[1];
const wire = (fields: Wire) => create(ConsumerConfigSchema, { durableName: 'workers', filterSubjects: ['orders.>'], ...fields });

function assertInvalid(fields: Wire, pattern: RegExp) {
  assert.throws(
    () => consumerConfigFromWire(wire(fields)),
    (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, pattern);
      return true;
    },
  );
}

test('a configuration with only a name and a filter gets the defaults', () => {
  assert.deepEqual(consumerConfigFromWire(wire({})), {
    durable: 'workers',
    filterSubjects: ['orders.>'],
    ackPolicy: 'all',
    ackWaitMs: 30_000,
    maxDeliver: 0,
    backoffMs: [],
    maxAckPending: 1000,
    deliver: { kind: 'all' },
    deadLetterSubject: '',
  });
});

test('every field survives wire -> config -> wire -> config', () => {
  const full = wire({
    filterSubjects: ['orders.*.paid', 'refunds.>'],
    ackPolicy: AckPolicy.EXPLICIT,
    ackWaitMs: 5000n,
    maxDeliver: 4,
    backoffMs: [1000n, 5000n, 30_000n],
    maxAckPending: 50,
    deliverPolicy: DeliverPolicy.BY_START_TIME,
    optStartTime: timestampFromMs(1_700_000_000_000),
    deadLetterSubject: 'orders-dead',
  });
  const config = consumerConfigFromWire(full);
  assert.deepEqual(config.deliver, { kind: 'time', timeMs: 1_700_000_000_000 });
  assert.deepEqual(consumerConfigFromWire(create(ConsumerConfigSchema, consumerConfigToWire(config))), config);
  const bySequence = consumerConfigFromWire(wire({ deliverPolicy: DeliverPolicy.BY_START_SEQUENCE, optStartSequence: 7n }));
  assert.deepEqual(bySequence.deliver, { kind: 'sequence', sequence: 7n });
  assert.deepEqual(consumerConfigFromWire(create(ConsumerConfigSchema, consumerConfigToWire(bySequence))), bySequence);
});

test('filters: at least one, NATS wildcards as whole tokens, > last, none overlapping', () => {
  assertInvalid({ filterSubjects: [] }, /filter_subjects needs at least one/);
  assertInvalid({ filterSubjects: ['orders.>.paid'] }, /filter_subjects\[0\].*> may only be the last token/);
  assertInvalid({ filterSubjects: ['a', 'orders*'] }, /filter_subjects\[1\].*whole tokens/);
  assertInvalid({ filterSubjects: ['orders..x'] }, /filter_subjects\[0\].*empty token/);
  assertInvalid({ filterSubjects: ['orders.*', 'orders.eu'] }, /"orders.\*" and "orders.eu" overlap/);
  assertInvalid({ filterSubjects: ['a.b', 'a.b'] }, /overlap/);
  assert.deepEqual(consumerConfigFromWire(wire({ filterSubjects: ['orders.*', 'orders.*.paid', '*'] })).filterSubjects, [
    'orders.*',
    'orders.*.paid',
    '*',
  ]);
});

test('limits, backoff and deliver policy name the field that is wrong', () => {
  assertInvalid({ durableName: '' }, /durable_name is required/);
  assertInvalid({ backoffMs: [1000n, 2000n], maxDeliver: 2 }, /max_deliver \(2\) must be greater than the 2 entries of backoff_ms/);
  assertInvalid({ backoffMs: [1000n, 0n], maxDeliver: 5 }, /backoff_ms\[1\] must be at least 1 ms/);
  assertInvalid({ ackWaitMs: 8n * 24n * 3_600_000n }, /ack_wait_ms must be at most/);
  assertInvalid({ maxAckPending: 2_000_000 }, /max_ack_pending must be at most/);
  assertInvalid({ deliverPolicy: DeliverPolicy.BY_START_SEQUENCE }, /needs opt_start_sequence/);
  assertInvalid({ deliverPolicy: DeliverPolicy.BY_START_TIME }, /needs opt_start_time/);
  assertInvalid({ optStartSequence: 3n }, /opt_start_sequence is only for DELIVER_POLICY_BY_START_SEQUENCE/);
  assertInvalid({ ackPolicy: 9 as AckPolicy }, /ack_policy 9/);
  assertInvalid({ deadLetterSubject: 'dead.*' }, /dead_letter_subject "dead.\*" contains a wildcard/);
  assertInvalid({ deadLetterSubject: 'orders.dead' }, /dead_letter_subject "orders.dead" matches filter "orders.>"/);
  // Unlimited deliveries are more than any backoff.
  assert.deepEqual(consumerConfigFromWire(wire({ backoffMs: [1000n, 2000n] })).backoffMs, [1000, 2000]);
});
