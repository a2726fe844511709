import assert from 'node:assert/strict';
import {
  ObjectMissingError,
  unlimitedRetention,
  type MessageStore,
  type MetadataRecord,
  type MetadataStore,
  type ObjectStore,
  type RetentionPolicy,
} from '../store/store.js';
import { eventually, payload } from './conformance-harness.js';

/**
 * The subjects the expiry crash tests fill: each gets `rounds` rounds of one
 * payload object then `inlinePerRound` inline messages, so objects are spread
 * through an expiry pass, and a max_messages of `kept` expires the rest.
 */
export interface ExpiringSubjects {
  subjects: string[];
  rounds: number;
  inlinePerRound: number;
  kept: number;
  /** Bytes of each payload object: more than the store's inline limit. */
  objectBytes: number;
}

/** Where a payload object went, and the round whose bytes it holds. */
export interface PublishedObject {
  subject: string;
  sequence: bigint;
  round: number;
}

/** 20 subjects of 10 rounds each. */
export function expiringSubjects(shape: Pick<ExpiringSubjects, 'inlinePerRound' | 'kept' | 'objectBytes'>): ExpiringSubjects {
  return { subjects: Array.from({ length: 20 }, (_, index) => `expiring.${index}`), rounds: 10, ...shape };
}

function messagesPerSubject({ rounds, inlinePerRound }: ExpiringSubjects): number {
  return rounds * (1 + inlinePerRound);
}

/** How many messages max_messages = `kept` expires over all subjects. */
export function messagesToExpire(layout: ExpiringSubjects): bigint {
  return BigInt(layout.subjects.length * (messagesPerSubject(layout) - layout.kept));
}

/** How many messages it keeps over all subjects. */
export function messagesKept(layout: ExpiringSubjects): bigint {
  return BigInt(layout.subjects.length * layout.kept);
}

/** The policy that keeps each subject's last `kept` messages. */
export function keepLast(layout: ExpiringSubjects): RetentionPolicy {
  return {
    pattern: 'expiring.>',
    ...unlimitedRetention,
    maxMessages: layout.kept,
    maxMessageBytes: 0,
    discard: 'old',
    retention: 'limits',
  };
}

/** Waits (at most `timeoutMs`) until only the kept messages are stored and the queue of deleted objects is empty. */
export async function untilExpiredAndDrained(metadata: MetadataStore, layout: ExpiringSubjects, timeoutMs: number): Promise<void> {
  await eventually(
    async () => (await metadata.storageStats()).messages === messagesKept(layout) && (await metadata.deletedObjects(1)).length === 0,
    timeoutMs,
  );
}

/** Publishes the layout (objects through `store`, inline messages straight to `metadata`); returns each object's key and place. */
export async function fillExpiringSubjects(
  store: MessageStore,
  metadata: MetadataStore,
  layout: ExpiringSubjects,
): Promise<Map<string, PublishedObject>> {
  const objectKeys = new Map<string, PublishedObject>();
  const inline = (subject: string): MetadataRecord => ({
    subject,
    timestampMs: Date.now(),
    headers: {},
    size: 8,
    inline: payload(8),
    objectKey: '',
  });
  for (let round = 0; round < layout.rounds; round++) {
    for (const subject of layout.subjects) {
      const [stored] = await store.publish([{ subject, data: payload(layout.objectBytes, round), headers: {} }]);
      objectKeys.set(stored!.objectName, { subject, sequence: stored!.sequence, round });
      await metadata.commit(Array.from({ length: layout.inlinePerRound }, () => inline(subject)));
    }
  }
  return objectKeys;
}

/**
 * Asserts that each subject holds exactly its last `kept` messages, that every
 * kept message still names its object and the object holds its bytes, and that
 * the objects of expired messages are removed. Returns the kept objects' keys.
 */
export async function assertExpiredExactly(
  metadata: MetadataStore,
  objects: ObjectStore,
  layout: ExpiringSubjects,
  objectKeys: Map<string, PublishedObject>,
): Promise<string[]> {
  const firstKept = BigInt(messagesPerSubject(layout) - layout.kept + 1);
  for (const subject of layout.subjects) {
    const stats = await metadata.subjectStats(subject);
    assert.deepEqual([stats?.firstSequence, stats?.messages], [firstKept, BigInt(layout.kept)], subject);
  }
  const keptKeys: string[] = [];
  for (const [key, { subject, sequence, round }] of objectKeys) {
    if (sequence >= firstKept) {
      keptKeys.push(key);
      const [row] = await metadata.readAfter(subject, sequence - 1n, 1);
      assert.equal(row?.objectKey, key, `${subject} #${sequence} still names its object`);
      assert.deepEqual(
        new Uint8Array(await objects.get(key)),
        payload(layout.objectBytes, round),
        `the object of ${subject} #${sequence} holds its bytes`,
      );
    } else {
      await assert.rejects(objects.get(key), ObjectMissingError, `the object of expired ${subject} #${sequence} is removed`);
    }
  }
  assert.ok(keptKeys.length > 0 && keptKeys.length < objectKeys.size, 'some objects are kept, some expired');
  return keptKeys;
}
