/** Cumulative acknowledgements with at most one call in flight; see {@link coalescedAcks}. */
export interface CoalescedAcks {
  /** Acknowledges everything up to `sequence`: now, or with the next call if one is in flight. */
  ack(sequence: bigint): void;
  /** Waits until every sequence given to `ack` is acknowledged; throws the failure of any ack. */
  flush(): Promise<void>;
}

/**
 * Acks are cumulative, so while one is in flight the later ones collapse
 * into a single call for the highest sequence, sent when it returns. The
 * first failure stops the acking and is passed to `onFailure`.
 */
export function coalescedAcks(send: (sequence: bigint) => Promise<unknown>, onFailure: (error: unknown) => void): CoalescedAcks {
  let wanted = 0n;
  let sent = 0n;
  let inFlight: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;

  const pump = (): void => {
    if (inFlight !== undefined || failure !== undefined || wanted <= sent) return;
    sent = wanted;
    inFlight = send(sent).then(
      () => {
        inFlight = undefined;
        pump();
      },
      (error: unknown) => {
        inFlight = undefined;
        failure = { error };
        onFailure(error);
      },
    );
  };
  return {
    ack(sequence) {
      if (sequence > wanted) wanted = sequence;
      pump();
    },
    async flush() {
      while (inFlight !== undefined) await inFlight;
      if (failure !== undefined) throw failure.error;
    },
  };
}
