import type { Logger } from 'pino';
import type { GroupCommit } from './group-commit.js';
import { mapOrdered } from './map-ordered.js';
import { newObjectKey } from './object-key.js';
import type { PublishOrder } from './publish-order.js';
import {
  ExpectedLastSequenceError,
  MessageTooLargeError,
  UploadExpiredError,
  type CommittedRecord,
  type MetadataRecord,
  type MetadataStore,
  type ObjectStore,
  type PublishMessage,
  type PublishResult,
} from './store.js';

/** Header carrying the payload length; clients of the original Go system read it. */
export const dataSizeHeader = 'data-size';
const defaultContentType = 'application/octet-stream';

export interface PublishDependencies {
  metadata: MetadataStore;
  /** Where the metadata commit goes: merged with concurrent ones. */
  groupCommit: GroupCommit;
  objects: ObjectStore;
  inlineMaxBytes: number;
  maxMessageBytes: number;
  uploadParallelism: number;
  orphanGraceMs: number;
  logger?: Logger | undefined;
}

interface PlannedMessage {
  message: PublishMessage;
  headers: Record<string, string>;
  /** `""` for an inline payload. */
  objectKey: string;
}

/**
 * Publishes a batch: large payloads are uploaded first (each registered as a
 * pending upload so an uncommitted one gets swept), then one metadata commit
 * assigns every sequence. A sequence therefore exists only once its payload is
 * stored, and a slow upload never holds a number that a later message passes.
 *
 * Cleanup when something fails: an upload failure, or a commit refused with
 * {@link UploadExpiredError}, means nothing was committed, so the objects are
 * deleted at once (best effort). Any other commit failure is ambiguous — a
 * remote commit may have applied although its reply was lost — so the objects
 * stay; their pending entries survive only if the commit did not apply, and
 * then the orphan sweep removes them after the grace period.
 */
export async function publishMessages(
  deps: PublishDependencies,
  batch: PublishMessage[],
  signal?: AbortSignal,
  order?: PublishOrder,
): Promise<PublishResult[]> {
  // Taken before the first await, so turns follow the order of the calls.
  const turn = order?.take();
  try {
    for (const { subject, data } of batch) {
      if (data.byteLength > deps.maxMessageBytes) {
        throw new MessageTooLargeError(
          `message for subject ${subject} has ${data.byteLength} bytes; the limit is ${deps.maxMessageBytes} bytes`,
        );
      }
    }
    const startedAtMs = Date.now();
    const uploads: PlannedMessage[] = [];
    const records: MetadataRecord[] = batch.map((message) => {
      const size = message.data.byteLength;
      const headers = { ...message.headers, [dataSizeHeader]: String(size) };
      const objectKey = size > deps.inlineMaxBytes ? newObjectKey(message.subject, startedAtMs) : '';
      if (objectKey !== '') uploads.push({ message, headers, objectKey });
      return {
        subject: message.subject,
        timestampMs: startedAtMs,
        headers,
        size,
        inline: objectKey === '' ? message.data : null,
        objectKey,
      };
    });
    if (uploads.length > 0) {
      await upload(deps, uploads, startedAtMs, signal);
      // A message is stamped with the time of its commit, which follows the uploads.
      const uploadedAtMs = Date.now();
      for (const record of records) record.timestampMs = uploadedAtMs;
    }
    if (turn) await turn.ready;
    // Submitting queues the records synchronously, so the next turn queues behind them.
    const committing = deps.groupCommit.commit(records, signal);
    turn?.done();
    let committed: CommittedRecord[];
    try {
      committed = await committing;
    } catch (error) {
      // Both mean nothing was committed.
      if (error instanceof UploadExpiredError || error instanceof ExpectedLastSequenceError)
        await discard(
          deps,
          uploads.map((entry) => entry.objectKey),
        );
      throw error;
    }
    const duplicateUploads = records.filter((record, index) => committed[index]!.duplicate && record.objectKey !== '');
    if (duplicateUploads.length > 0)
      await discard(
        deps,
        duplicateUploads.map((record) => record.objectKey),
      );
    return committed.map(({ sequence, duplicate }, index) =>
      duplicate ? { sequence, objectName: '', duplicate } : { sequence, objectName: records[index]!.objectKey },
    );
  } finally {
    turn?.done();
  }
}

async function upload(deps: PublishDependencies, uploads: PlannedMessage[], startedAtMs: number, signal?: AbortSignal): Promise<void> {
  const registered: string[] = [];
  const store = async ({ message, headers, objectKey }: PlannedMessage, uploadSignal: AbortSignal): Promise<void> => {
    await deps.metadata.addPendingUpload(objectKey, startedAtMs);
    registered.push(objectKey);
    await deps.objects.put(objectKey, message.data, headers['content-type'] || defaultContentType, uploadSignal);
  };
  try {
    for await (const _stored of mapOrdered(uploads, deps.uploadParallelism, store, signal));
    // The sweep removes pending entries older than the grace period. Committing
    // only while well inside it means the sweep can never delete an object
    // whose commit is still on its way.
    const elapsedMs = Date.now() - startedAtMs;
    if (elapsedMs > deps.orphanGraceMs / 2) {
      throw new UploadExpiredError(`uploads took ${elapsedMs} ms, more than half the orphan grace period of ${deps.orphanGraceMs} ms`);
    }
  } catch (error) {
    await discard(deps, registered);
    throw error;
  }
}

/** Deletes uploads that were never committed; what fails here is left to the orphan sweep. */
async function discard(deps: PublishDependencies, keys: string[]): Promise<void> {
  await Promise.all(
    keys.map(async (key) => {
      try {
        await deps.objects.remove(key);
        await deps.metadata.removePendingUpload(key);
      } catch (error) {
        deps.logger?.warn({ err: error, objectKey: key }, 'could not discard an uncommitted upload; the orphan sweep will');
      }
    }),
  );
}
