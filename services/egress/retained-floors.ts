import type { ServiceDeps } from '../platform/start-service.js';

/**
 * The sequence below which a subject holds nothing (retention or a purge
 * deleted it), per subject, each looked up once: a consumer's pending count
 * leaves out what it can no longer receive.
 */
export function retainedFloors(
  store: Pick<ServiceDeps['store'], 'subjectStats'>,
  signal: AbortSignal,
): (subject: string) => Promise<bigint> {
  const floors = new Map<string, Promise<bigint>>();
  return (subject) => {
    let floor = floors.get(subject);
    if (floor === undefined) {
      floor = store.subjectStats(subject, signal).then((stats) => {
        if (stats === undefined) return 0n;
        return stats.firstSequence > 0n ? stats.firstSequence - 1n : stats.lastSequence;
      });
      floors.set(subject, floor);
    }
    return floor;
  };
}
