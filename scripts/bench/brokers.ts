import type { ClosedLoopResult, OpenLoopResult } from '../../services/cli/load-loops.js';

/** One system under comparison, started and ready for the workloads. */
export interface Broker {
  name: string;
  /** Closed-loop publish of 1 message per call with `concurrency` calls in flight. */
  publish(concurrency: number, durationMs: number): Promise<ClosedLoopResult>;
  /** Publisher at `rate` messages/s and a consumer in this process. */
  e2e(rate: number, durationMs: number): Promise<OpenLoopResult>;
  stop(): Promise<void>;
}

export interface BrokerOptions {
  sizeBytes: number;
  progress: boolean;
  /** How long the e2e workloads wait for the last messages. */
  drainMs: number;
}
