import type { MetadataStore } from './store.js';

/**
 * The first sequence of `subject` committed at or after `timeMs`, by binary
 * search over sequences with one metadata row read per step (payload objects
 * are never fetched), so no index on time is needed. Commit times rise with
 * sequences; where concurrent publishes left them slightly out of order the
 * answer is a close neighbour. lastSequence + 1 when every message is older;
 * 0n when nothing is stored.
 */
export async function sequenceAtTime(metadata: MetadataStore, subject: string, timeMs: number, signal?: AbortSignal): Promise<bigint> {
  const stats = await metadata.subjectStats(subject, signal);
  if (stats === undefined || stats.firstSequence === 0n) return 0n;
  // The answer lies in [low, high]; high past the end means "none yet".
  let low = stats.firstSequence;
  let high = stats.lastSequence + 1n;
  while (low < high) {
    const middle = (low + high) / 2n;
    const [row] = await metadata.readAfter(subject, middle - 1n, 1, signal);
    if (row === undefined || row.timestampMs >= timeMs) high = middle;
    else low = row.sequence + 1n;
  }
  return low;
}
