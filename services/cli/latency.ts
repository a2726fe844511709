/** Latency samples in milliseconds; percentiles by nearest rank over every sample (no binning). */
export interface Latencies {
  record(ms: number): void;
  readonly count: number;
  summary(): LatencySummary;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function createLatencies(): Latencies {
  let samples = new Float64Array(1024);
  let count = 0;
  return {
    record(ms) {
      if (count === samples.length) {
        const grown = new Float64Array(samples.length * 2);
        grown.set(samples);
        samples = grown;
      }
      samples[count++] = ms;
    },
    get count() {
      return count;
    },
    summary() {
      const sorted = samples.slice(0, count).sort();
      const rank = (p: number): number => (count === 0 ? 0 : sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)]!);
      return { count, p50Ms: rank(50), p90Ms: rank(90), p99Ms: rank(99), maxMs: count === 0 ? 0 : sorted[count - 1]! };
    },
  };
}

/** `p50 1.23 ms  p90 ...` for a report line. */
export function formatLatencies(summary: LatencySummary): string {
  const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);
  return `p50 ${ms(summary.p50Ms)} ms  p90 ${ms(summary.p90Ms)} ms  p99 ${ms(summary.p99Ms)} ms  max ${ms(summary.maxMs)} ms`;
}
