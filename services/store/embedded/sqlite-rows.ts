import type { MetadataRow } from '../store.js';

/** The columns of a message row, as the embedded store selects them. */
export interface MessageRowData {
  sequence: bigint;
  timestamp_ms: bigint;
  headers: string;
  size: bigint;
  inline: Buffer | null;
  object_key: string;
}

/** The columns {@link MessageRowData} names, in a SELECT list. */
export const messageColumns = 'sequence, timestamp_ms, headers, size, inline, object_key';

export function toMetadataRow(subject: string, row: MessageRowData): MetadataRow {
  return {
    subject,
    sequence: row.sequence,
    timestampMs: Number(row.timestamp_ms),
    headers: JSON.parse(row.headers) as Record<string, string>,
    size: Number(row.size),
    inline: row.inline,
    objectKey: row.object_key,
  };
}
