import type { Logger } from 'pino';
import type { DependencyStatus } from '../store/store.js';

export type ReadinessState = 'starting' | 'ready' | 'unavailable' | 'draining';

export interface ReadinessReport {
  ready: boolean;
  state: ReadinessState;
  dependencies: DependencyStatus[];
}

export interface Readiness {
  report(): ReadinessReport;
  /** Calls `listener` on every change of `ready`; returns the unsubscribe function. */
  onChange(listener: (ready: boolean) => void): () => void;
  /** Not ready from now on, whatever the dependencies say (SIGTERM). */
  drain(): void;
  /** Aborted when draining starts: long-lived streams end on it. */
  readonly draining: AbortSignal;
  /** Runs the dependency checks now (the timer runs them too). */
  refresh(): Promise<ReadinessReport>;
  stop(): void;
}

export interface ReadinessOptions {
  check: () => Promise<DependencyStatus[]>;
  intervalMs?: number;
  logger: Logger;
}

/**
 * Readiness of one process: starting until the first check, then ready while
 * every dependency answers, and never ready again once draining. Checks run
 * on an unref'd timer, so /readyz and health Check answer from memory and a
 * probe storm never becomes a Tarantool storm.
 */
export function createReadiness({ check, intervalMs = 2000, logger }: ReadinessOptions): Readiness {
  let state: ReadinessState = 'starting';
  let dependencies: DependencyStatus[] = [];
  const listeners = new Set<(ready: boolean) => void>();
  const drainController = new AbortController();
  let running: Promise<ReadinessReport> | undefined;

  const report = (): ReadinessReport => ({ ready: state === 'ready', state, dependencies });
  const setState = (next: ReadinessState) => {
    if (next === state) return;
    const wasReady = state === 'ready';
    state = next;
    logger.info({ state, dependencies }, 'readiness changed');
    if (wasReady !== (state === 'ready')) listeners.forEach((listener) => listener(state === 'ready'));
  };

  const refresh = (): Promise<ReadinessReport> => {
    running ??= check()
      .then((result) => {
        dependencies = result;
        if (state !== 'draining') setState(result.every((dependency) => dependency.ok) ? 'ready' : 'unavailable');
        return report();
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  void refresh();

  return {
    report,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    drain() {
      setState('draining');
      drainController.abort(new Error('server is shutting down'));
    },
    draining: drainController.signal,
    refresh,
    stop() {
      clearInterval(timer);
    },
  };
}
