import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@connectrpc/connect';
import type { EgressService, Message } from '../../gen/minitoolstream/egress_pb.js';
import type { MetadataStore, ObjectStore } from '../store/store.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import type { S3Server } from '../testing/s3-server.js';
import { attemptHeader, type PublishLedger } from './crash-publishers.js';

/** What one audit found, for the next checks and the test's diagnostics. */
export interface AuditResult {
  messages: number;
  /** Object keys the committed messages refer to. */
  referenced: Set<string>;
  /** Objects in the bucket that no committed message refers to: uploads of refused publishes. */
  unreferenced: string[];
}

export interface AuditTarget {
  egress: Client<typeof EgressService>;
  metadata: MetadataStore;
  objects: ObjectStore;
  s3: S3Server;
  bucket: string;
  subjects: string[];
  ledger: PublishLedger;
}

const page = 1000;
const listingAttempts = 5;
const objectSuffix = '._S3rver_object';
let audits = 0;

/** Every message of `subject` through egress's Fetch, paged by acking a fresh durable. */
async function fetchEvery(egress: Client<typeof EgressService>, subject: string): Promise<Message[]> {
  const durableName = `audit-${++audits}`;
  const fetched: Message[] = [];
  for (;;) {
    const before = fetched.length;
    for await (const message of egress.fetch({ subject, durableName, batchSize: page })) fetched.push(message);
    if (fetched.length === before) return fetched;
    await egress.ackMessage({ subject, durableName, sequence: fetched.at(-1)!.sequence });
  }
}

async function metadataRows(metadata: MetadataStore, subject: string) {
  const rows = [];
  for (;;) {
    const next = await metadata.readAfter(subject, rows.at(-1)?.sequence ?? 0n, page);
    rows.push(...next);
    if (next.length < page) return rows;
  }
}

/**
 * Every object key in the bucket, read from s3rver's folder: its own listing
 * reads each object's metadata files and fails (500) when one is changed
 * under it, which a sweep running meanwhile does.
 */
export async function bucketKeys(s3: S3Server, bucket: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const files = await readdir(join(s3.directory, bucket), { recursive: true });
      return files.filter((file) => file.endsWith(objectSuffix)).map((file) => file.slice(0, -objectSuffix.length));
    } catch (error) {
      // s3rver removes a key's folder once its last object is deleted, perhaps while the walk is in it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= listingAttempts) throw error;
    }
  }
}

/**
 * With the publishers stopped: no sequence was acknowledged twice; each
 * subject's sequences run 1..last without a gap; every acknowledged message
 * is there with the bytes it was sent with;
 * every stored message holds the bytes of the attempt it names; and every
 * object a message refers to is readable.
 */
export async function auditStore(target: AuditTarget): Promise<AuditResult> {
  const { egress, metadata, objects, ledger } = target;
  assert.deepEqual(ledger.doubleAcks, [], 'no sequence was acknowledged to two publishes');
  const referenced = new Set<string>();
  let messages = 0;
  for (const subject of target.subjects) {
    const { lastSequence } = await egress.getLastSequence({ subject });
    const fetched = await fetchEvery(egress, subject);
    assert.deepEqual(
      fetched.map((message) => message.sequence),
      Array.from({ length: Number(lastSequence) }, (_, index) => BigInt(index + 1)),
      `${subject}: sequences 1..${lastSequence} without a gap`,
    );
    for (const [sequence, data] of ledger.acknowledged.get(subject) ?? []) {
      const stored = fetched[Number(sequence) - 1];
      assert.ok(stored, `${subject}: acknowledged sequence ${sequence} is past the last sequence ${lastSequence}`);
      assertSameBytes(stored.data, data, `${subject}: acknowledged sequence ${sequence}`);
    }
    for (const message of fetched) {
      const attempt = message.headers[attemptHeader]!;
      assertSameBytes(message.data, ledger.attempts.get(attempt)!, `${subject}: sequence ${message.sequence} (attempt ${attempt})`);
    }
    const rows = await metadataRows(metadata, subject);
    assert.equal(rows.length, fetched.length, `${subject}: metadata rows`);
    for (const row of rows.filter((each) => each.objectKey !== '')) {
      referenced.add(row.objectKey);
      assertSameBytes(await objects.get(row.objectKey), fetched[Number(row.sequence) - 1]!.data, `${subject}: object of ${row.sequence}`);
    }
    messages += fetched.length;
  }
  const unreferenced = (await bucketKeys(target.s3, target.bucket)).filter((key) => !referenced.has(key));
  return { messages, referenced, unreferenced };
}
