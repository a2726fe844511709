import { StoreError, type MetadataRow } from '../store.js';
import type { TarantoolLink } from './connection.js';

/** What every procedure of init.lua returns: ok, or a code for an expected failure. */
export interface Outcome {
  ok: boolean;
  code?: string;
  [field: string]: unknown;
}

/** Calls the procedures of init.lua over one link. */
export interface Procedures {
  /** The outcome as the procedure answered it, expected failures included. */
  invoke(name: string, args: unknown[], signal?: AbortSignal, timeoutMs?: number): Promise<Outcome>;
  /** {@link Procedures.invoke}, throwing StoreError for any failure code. */
  expectOk(name: string, args: unknown[], signal?: AbortSignal, timeoutMs?: number): Promise<Outcome>;
}

export function procedureCaller(link: TarantoolLink): Procedures {
  async function invoke(name: string, args: unknown[], signal?: AbortSignal, timeoutMs?: number): Promise<Outcome> {
    const result = await link.call(name, args, { signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    if (typeof result !== 'object' || result === null || typeof (result as Outcome).ok !== 'boolean') {
      throw new StoreError(`tarantool procedure ${name} returned an unexpected value`);
    }
    return result as Outcome;
  }
  return {
    invoke,
    async expectOk(name, args, signal, timeoutMs) {
      const outcome = await invoke(name, args, signal, timeoutMs);
      if (!outcome.ok) throw new StoreError(`tarantool procedure ${name} failed with ${outcome.code}`);
      return outcome;
    },
  };
}

/** A message as mts_read_after and mts_lease answer it: inline data as base64 (the driver reads strings as UTF-8). */
export interface WireRow {
  sequence: string;
  timestamp_ms: number;
  headers: Record<string, string>;
  size: number;
  data: string | null;
  object_key: string;
}

export function fromWireRow(subject: string, row: WireRow): MetadataRow {
  return {
    subject,
    sequence: BigInt(row.sequence),
    timestampMs: row.timestamp_ms,
    headers: row.headers,
    size: row.size,
    inline: row.data === null ? null : new Uint8Array(Buffer.from(row.data, 'base64')),
    objectKey: row.object_key,
  };
}
