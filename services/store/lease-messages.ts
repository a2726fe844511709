import type { LeasedMessage, MessageLease } from './consumers.js';
import { mapOrdered } from './map-ordered.js';
import { loadMessage, type ReadDependencies } from './read-messages.js';
import type { ReadLimits } from './store.js';

/**
 * Leases messages through the metadata store and reads their payloads as
 * `read` does (object payloads fetched `fetchParallelism` at a time, a missing
 * object delivered empty with the payload-missing header). The lease's byte
 * limit bounds what is held, so the payload budget is not consulted. A failed
 * fetch throws after the lease was taken: the messages come back when it expires.
 */
export async function leaseMessages(
  deps: ReadDependencies,
  durable: string,
  subjects: string[],
  limits: ReadLimits,
  nowMs: number,
  signal?: AbortSignal,
): Promise<MessageLease> {
  const { rows, ...outcome } = await deps.metadata.lease(durable, subjects, limits, nowMs, signal);
  const messages: LeasedMessage[] = [];
  const load = async (row: (typeof rows)[number], loadSignal: AbortSignal): Promise<LeasedMessage> => ({
    ...(await loadMessage(deps, row, loadSignal)),
    deliveryCount: row.deliveryCount,
  });
  for await (const message of mapOrdered(rows, deps.fetchParallelism, load, signal)) messages.push(message);
  return { ...outcome, messages };
}
