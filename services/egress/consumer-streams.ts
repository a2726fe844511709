/**
 * The Consume streams open on this replica, per configured durable: what
 * ConsumerInfo reports as `waiting`. A stream calls `open` when it starts
 * and the returned function once when it ends.
 */
export interface ConsumerStreams {
  open(durable: string): () => void;
  count(durable: string): number;
}

export function createConsumerStreams(): ConsumerStreams {
  const open = new Map<string, number>();
  return {
    open(durable) {
      open.set(durable, (open.get(durable) ?? 0) + 1);
      let closed = false;
      return () => {
        if (closed) return;
        closed = true;
        const left = open.get(durable)! - 1;
        if (left === 0) open.delete(durable);
        else open.set(durable, left);
      };
    },
    count: (durable) => open.get(durable) ?? 0,
  };
}
