import { ConnectError } from '@connectrpc/connect';
import type { PublishResponse } from '../../gen/minitoolstream/ingress_pb.js';
import type { Clients } from './clients.js';
import { openPublishStream, type PublishMessage } from './publish-stream.js';

/** Payload bytes one request carries at most (a single longer line still goes alone), well under the server's batch limit. */
export const batchMaxBytes = 4 * 1024 * 1024;

export interface LinePublishOptions {
  ingress: Clients['ingress'];
  subject: string;
  headers: Record<string, string>;
  /** Messages per request at most. */
  batch: number;
  /** Requests sent and not yet answered at most. */
  inFlight: number;
  lines: AsyncIterable<Uint8Array>;
  /** The published batch whose first message was line `firstLine` (1-based); called in line order. */
  onPublished(firstLine: number, results: PublishResponse[]): Promise<void>;
  /** A batch the server rejected; its lines were not published. Called in line order. */
  onRejected(firstLine: number, count: number, error: ConnectError): Promise<void>;
}

export interface LinePublishSummary {
  lines: number;
  published: number;
  rejected: number;
  batches: number;
}

/**
 * Publishes each line as one message through one PublishStream. A batch goes
 * out when it holds `batch` lines (or `batchMaxBytes`), and at once whenever
 * nothing is in flight, so a slow writer such as `tail -f` is never held
 * back waiting for a full batch. With `inFlight` requests unanswered, reading
 * pauses. A rejected batch is reported and the rest go on; a failure of the
 * stream itself stops the reading and is thrown once the answers are in.
 */
export async function publishLines(options: LinePublishOptions): Promise<LinePublishSummary> {
  const stream = openPublishStream(options.ingress);
  const summary: LinePublishSummary = { lines: 0, published: 0, rejected: 0, batches: 0 };
  // One per unanswered request, in send order; each settles once its outcome is reported.
  const unanswered: Promise<void>[] = [];
  let reporting = Promise.resolve();
  let batch: PublishMessage[] = [];
  let batchBytes = 0;
  let open = 0;

  const report = (write: () => Promise<void>): Promise<void> => (reporting = reporting.then(write));
  const send = (): void => {
    if (batch.length === 0 || stream.failed !== undefined) return;
    const messages = batch;
    const firstLine = summary.lines - messages.length + 1;
    batch = [];
    batchBytes = 0;
    summary.batches++;
    open++;
    const answered = stream.send(messages).then(
      (results) => {
        summary.published += results.length;
        return report(() => options.onPublished(firstLine, results));
      },
      (error: unknown) => {
        summary.rejected += messages.length;
        // A failed stream is reported once, by the caller.
        return stream.failed === undefined
          ? report(() => options.onRejected(firstLine, messages.length, ConnectError.from(error)))
          : undefined;
      },
    );
    unanswered.push(
      answered.finally(() => {
        open--;
        if (open === 0) send();
      }),
    );
  };

  for await (const data of options.lines) {
    if (batchBytes > 0 && batchBytes + data.length > batchMaxBytes) send();
    batch.push({ subject: options.subject, data, headers: options.headers });
    batchBytes += data.length;
    summary.lines++;
    if (batch.length >= options.batch || open === 0) send();
    while (unanswered.length >= options.inFlight) await unanswered.shift();
    if (stream.failed !== undefined) break;
  }
  send();
  while (unanswered.length > 0) await unanswered.shift();
  await stream.close().finally(() => reporting);
  return summary;
}
