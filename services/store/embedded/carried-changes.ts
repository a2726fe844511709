import { carriedMessagesMax, type CarryRequest, type CommitChange, type MetadataRow, type StoreChange } from '../store.js';

/** The first sequence of each commit change this process appended, kept beside the feed's ring. */
export type CommitFirsts = WeakMap<CommitChange, bigint>;

/**
 * The answer of the change feed with messages carried, as
 * `MessageStore.waitForChanges` describes for `carry`: a commit change of a
 * subject asked for whose rows, read now, are all inline and fit what is
 * left of the byte budget gains them. `readAfter(subject, after, limit)` reads rows as
 * the store's readAfter does. The ring's own changes are never modified.
 */
export function withCarried(
  changes: StoreChange[],
  carry: CarryRequest,
  firsts: CommitFirsts,
  readAfter: (subject: string, after: bigint, limit: number) => MetadataRow[],
): StoreChange[] {
  let left = carry.bytes;
  const wanted = carry.subjects && new Set(carry.subjects);
  return changes.map((change) => {
    if (!('lastSequence' in change) || (wanted && !wanted.has(change.subject))) return change;
    const first = firsts.get(change);
    if (first === undefined || left <= 0 || change.lastSequence - first >= BigInt(carriedMessagesMax)) return change;
    const after = first - 1n;
    const rows = readAfter(change.subject, after, Number(change.lastSequence - after)).filter((row) => row.sequence <= change.lastSequence);
    let bytes = 0;
    for (const row of rows) {
      bytes += row.size;
      if (row.objectKey !== '' || bytes > left) return change;
    }
    left -= bytes;
    return { ...change, carried: { after, rows } };
  });
}
