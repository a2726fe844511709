import type { Logger } from 'pino';

export interface PeriodicTask {
  /** Stops the timer and waits for a running round to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `round` every `intervalMs` on an unref'd timer; rounds never overlap
 * and a failed round is logged and retried on the next one.
 */
export function startPeriodicTask(what: string, intervalMs: number, round: () => Promise<void>, logger: Logger | undefined): PeriodicTask {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = round()
      .catch((error: unknown) => logger?.warn({ err: error }, `${what} failed; retrying on the next round`))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
