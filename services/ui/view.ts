import type { Clients } from './rpc.js';

/** What every page gets from the shell. */
export interface ViewContext {
  clients: Clients;
  /** Shows the error as gRPC code and message; `unauthenticated` opens the token field. */
  reportError(error: unknown): void;
  /** Where the page publishes, for the health line. */
  ingressUrl: string;
}

/** A rendered page; `stop` ends its timers and streams when another page replaces it. */
export interface View {
  element: HTMLElement;
  stop(): void;
}

/** How often pages poll: never faster than once a second. */
export const pollIntervalMs = 2000;

/**
 * Runs `task` now and then `intervalMs` after each run ends (so slow answers
 * never pile up) until `signal` aborts.
 */
export function repeat(task: () => Promise<void>, intervalMs: number, signal: AbortSignal): void {
  const run = async () => {
    if (signal.aborted) return;
    await task();
    if (!signal.aborted) setTimeout(() => void run(), intervalMs);
  };
  void run();
}
