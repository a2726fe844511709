import type { Logger } from 'pino';
import { mapOrdered } from './map-ordered.js';
import type { PayloadBudget, Release } from './payload-budget.js';
import {
  ObjectMissingError,
  type MetadataRow,
  type MetadataStore,
  type ObjectStore,
  type ReadLimits,
  type StoredMessage,
} from './store.js';

/** Header set on a message whose payload object is gone; its value is the object key. */
export const payloadMissingHeader = 'minitoolstream-payload-missing';
/** Metadata rows asked for per round trip. */
const pageSize = 100;

/** Rows {@link readMessages} asks for first; a caller that read them already passes them in. */
export const firstPageSize = (limits: ReadLimits): number => Math.min(pageSize, limits.maxMessages);

export interface ReadDependencies {
  metadata: MetadataStore;
  objects: ObjectStore;
  fetchParallelism: number;
  /** Object payloads are fetched only once they fit; each holds its room until the next message is asked for. */
  payloadBudget?: PayloadBudget | undefined;
  logger?: Logger | undefined;
}

/**
 * Yields the subject's messages after `afterSequence` in sequence order, page
 * by page. The byte budget is decided from the sizes in the metadata, so no
 * payload is fetched that will not be delivered; payload objects are fetched
 * up to `fetchParallelism` ahead of the consumer, never more.
 *
 * A payload object that is missing (deleted by hand, a lost volume) must not
 * stall a consumer forever, as it did in the original system: the message is
 * delivered with empty data and the header {@link payloadMissingHeader} naming
 * the key, and a warning is logged. Other object store failures are thrown.
 *
 * With a payload budget, each object payload reserves its size before it is
 * fetched, in sequence order (so a later small payload never takes the room an
 * earlier large one waits for), and gives it back once the consumer asks for
 * the next message or stops.
 *
 * `firstPage`, when given, is the first page already read: the
 * {@link firstPageSize} rows after `afterSequence`.
 */
export async function* readMessages(
  deps: ReadDependencies,
  subject: string,
  afterSequence: bigint,
  limits: ReadLimits,
  signal?: AbortSignal,
  firstPage?: MetadataRow[],
): AsyncGenerator<StoredMessage> {
  let cursor = afterSequence;
  let readAlready = firstPage;
  let delivered = 0;
  let bytes = 0;
  const held = new Set<Release>();
  let turn: Promise<unknown> = Promise.resolve();
  const reserve = (row: MetadataRow, loadSignal: AbortSignal): Promise<Release> => {
    if (deps.payloadBudget === undefined || row.objectKey === '') return Promise.resolve(() => {});
    const budget = deps.payloadBudget;
    const reserved = turn.then(() => budget.acquire(row.size, loadSignal));
    turn = reserved.catch(() => undefined);
    return reserved;
  };
  const load = async (row: MetadataRow, loadSignal: AbortSignal) => {
    const release = await reserve(row, loadSignal);
    held.add(release);
    return { message: await loadMessage(deps, row, loadSignal), release };
  };
  try {
    while (delivered < limits.maxMessages) {
      signal?.throwIfAborted();
      const wanted = Math.min(pageSize, limits.maxMessages - delivered);
      const page = readAlready ?? (await deps.metadata.readAfter(subject, cursor, wanted, signal));
      readAlready = undefined;
      const selected: MetadataRow[] = [];
      for (const row of page) {
        // The first message of a read is delivered whatever its size.
        if (delivered + selected.length > 0 && bytes + row.size > limits.maxBytes) break;
        bytes += row.size;
        selected.push(row);
      }
      for await (const { message, release } of mapOrdered(selected, deps.fetchParallelism, load, signal)) {
        try {
          yield message;
        } finally {
          held.delete(release);
          release();
        }
      }
      delivered += selected.length;
      if (selected.length < wanted) return;
      cursor = selected[selected.length - 1]!.sequence;
    }
  } finally {
    // Loads finished but never delivered (an early stop, a failure) give their room back here.
    for (const release of held) release();
  }
}

/** A row whose payload is inline (objectKey ''), as a message. */
export function inlineMessage(row: MetadataRow, data = row.inline ?? new Uint8Array(0), headers = row.headers): StoredMessage {
  return { subject: row.subject, sequence: row.sequence, timestampMs: row.timestampMs, headers, data };
}

/** One row with its payload: inline, fetched from the object store, or marked missing. */
export async function loadMessage(deps: ReadDependencies, row: MetadataRow, signal: AbortSignal): Promise<StoredMessage> {
  const message = (data: Uint8Array, headers = row.headers): StoredMessage => inlineMessage(row, data, headers);
  if (row.objectKey === '') return inlineMessage(row);
  try {
    return message(await deps.objects.get(row.objectKey, signal, row.size));
  } catch (error) {
    if (!(error instanceof ObjectMissingError)) throw error;
    deps.logger?.warn(
      { subject: row.subject, sequence: String(row.sequence), objectKey: row.objectKey },
      'payload object is missing; delivering the message with empty data',
    );
    return message(new Uint8Array(0), { ...row.headers, [payloadMissingHeader]: row.objectKey });
  }
}
