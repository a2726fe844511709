import {
  ExpectedLastSequenceError,
  RetentionLimitError,
  UploadExpiredError,
  defaultDuplicateWindowMs,
  type CommitStats,
  type CommittedRecord,
  type MetadataRecord,
  type MetadataStore,
} from './store.js';

/** Bounds of one merged commit; a single batch above them still goes, alone. */
export interface GroupCommitLimits {
  /** Messages per metadata commit; default 20,000 (two full 10,000-message batches). */
  maxMessages: number;
  /** Inline payload bytes per metadata commit; default 16 MiB. */
  maxBytes: number;
}

export const defaultGroupCommitLimits: GroupCommitLimits = { maxMessages: 20_000, maxBytes: 16 * 1024 * 1024 };

/** What a group commit offers: `commit` has the contract of {@link MetadataStore.commit}. */
export interface GroupCommit {
  commit(batch: MetadataRecord[], signal?: AbortSignal): Promise<CommittedRecord[]>;
  onCommit(listener: (commit: CommitStats) => void): () => void;
}

interface Waiting {
  records: MetadataRecord[];
  bytes: number;
  /** Checked when the group is taken, not listened to: a stream has many batches queued on one signal. */
  signal: AbortSignal | undefined;
  resolve(committed: CommittedRecord[]): void;
  reject(reason: unknown): void;
}

/**
 * Group commit: batches handed in while a metadata commit is in flight wait
 * and then go together, in arrival order, into the next single
 * `metadata.commit` (one Tarantool call; one SQLite transaction and fsync).
 * An idle queue is flushed at the end of the current event-loop turn
 * (`setImmediate`, never a timer), so batches that arrived in the same I/O
 * read share a commit and a lone batch waits for nothing. At most one commit
 * is in flight; a merged commit holds at most `maxMessages` messages and
 * `maxBytes` inline bytes. A caller that aborts while queued is dropped when
 * its group is taken; once its records are in flight it waits for the result.
 *
 * Every batch stays atomic and gets its own sequences (the store assigns them
 * in record order; a `msg-id` repeated in a later batch of the same commit is
 * that batch's duplicate, as if it had committed after). A commit refused with
 * {@link UploadExpiredError} naming a key, or with {@link ExpectedLastSequenceError}
 * or {@link RetentionLimitError} naming a record, fails only the batch holding it;
 * the others are committed again without it. Any other failure is shared by the whole merged commit: it cannot
 * be told apart per batch (a lost reply may even have committed all of them).
 */
export function createGroupCommit(
  metadata: MetadataStore,
  limits: GroupCommitLimits = defaultGroupCommitLimits,
  duplicateWindowMs = defaultDuplicateWindowMs,
): GroupCommit {
  const queue: Waiting[] = [];
  const listeners = new Set<(commit: CommitStats) => void>();
  let busy = false;

  function schedule(): void {
    if (busy) return;
    busy = true;
    setImmediate(() => void drain());
  }

  /** Commits what is queued, group after group, until the queue is empty. */
  async function drain(): Promise<void> {
    try {
      for (let group = takeGroup(); group.length > 0; group = takeGroup()) await commitGroup(group);
    } finally {
      busy = false;
    }
  }

  function takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    let messages = 0;
    let bytes = 0;
    while (queue.length > 0) {
      const next = queue[0]!;
      if (next.signal?.aborted) {
        queue.shift();
        next.reject(next.signal.reason);
        continue;
      }
      const fits = messages + next.records.length <= limits.maxMessages && bytes + next.bytes <= limits.maxBytes;
      if (group.length > 0 && !fits) break;
      group.push(queue.shift()!);
      messages += next.records.length;
      bytes += next.bytes;
    }
    return group;
  }

  async function commitGroup(group: Waiting[]): Promise<void> {
    let members = group;
    while (members.length > 0) {
      const records = members.length === 1 ? members[0]!.records : members.flatMap((member) => member.records);
      try {
        const committed = await metadata.commit(records, undefined, duplicateWindowMs);
        let offset = 0;
        for (const member of members) {
          member.resolve(committed.slice(offset, offset + member.records.length));
          offset += member.records.length;
        }
        const stats = { batches: members.length, messages: records.length };
        for (const listener of listeners) listener(stats);
        return;
      } catch (error) {
        const culprit = culpritOf(members, error);
        if (culprit === undefined || members.length === 1) {
          for (const member of members) member.reject(error);
          return;
        }
        culprit.reject(error);
        members = members.filter((member) => member !== culprit);
      }
    }
  }

  return {
    commit(records, signal) {
      if (records.length === 0) return Promise.resolve([]);
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<CommittedRecord[]>((resolve, reject) => {
        queue.push({ records, bytes: inlineBytes(records), signal, resolve, reject });
        schedule();
      });
    },
    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function inlineBytes(records: MetadataRecord[]): number {
  let bytes = 0;
  for (const record of records) bytes += record.inline?.byteLength ?? 0;
  return bytes;
}

/** The one batch a refused commit names, if it names one. */
function culpritOf(members: Waiting[], error: unknown): Waiting | undefined {
  if (error instanceof UploadExpiredError) {
    const { objectKey } = error;
    if (objectKey === undefined) return undefined;
    return members.find((member) => member.records.some((record) => record.objectKey === objectKey));
  }
  if (error instanceof ExpectedLastSequenceError) return memberAt(members, error.index);
  if (error instanceof RetentionLimitError) return memberAt(members, error.recordIndex);
  return undefined;
}

/** The member whose records hold position `index` of the merged commit. */
function memberAt(members: Waiting[], index: number | undefined): Waiting | undefined {
  if (index === undefined) return undefined;
  let end = 0;
  return members.find((member) => index < (end += member.records.length));
}
