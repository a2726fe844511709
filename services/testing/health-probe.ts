import http from 'node:http';

export interface ProbeReport {
  /** Probes answered 200. */
  served: number;
  /** Probes that failed or answered anything else, with what happened. */
  failures: string[];
  /** Round-trip times of the served probes, in milliseconds, sorted. */
  latenciesMs: number[];
}

/** One GET /healthz on a new connection from `localAddress`, as a kubelet sends it. */
function probeOnce(url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}/healthz`, { agent: false, localAddress }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    });
    request.setTimeout(10_000, () => request.destroy(new Error('no answer in 10 s')));
    request.on('error', reject);
  });
}

/**
 * Probes `url` back to back (one at a time, `pauseMs` apart) until the
 * returned stop function is called; it resolves with what was seen.
 */
export function startProbing(url: string, localAddress: string, pauseMs = 50): () => Promise<ProbeReport> {
  const report: ProbeReport = { served: 0, failures: [], latenciesMs: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      const startedAt = performance.now();
      try {
        const status = await probeOnce(url, localAddress);
        if (status === 200) {
          report.served += 1;
          report.latenciesMs.push(performance.now() - startedAt);
        } else report.failures.push(`status ${status}`);
      } catch (error) {
        report.failures.push((error as Error).message);
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
    report.latenciesMs.sort((a, b) => a - b);
    return report;
  };
}

/** "served N, p50 X ms, max Y ms", for a test's diagnostics. */
export function describeProbes(report: ProbeReport): string {
  const at = (q: number) => report.latenciesMs[Math.min(report.latenciesMs.length - 1, Math.floor(q * report.latenciesMs.length))] ?? NaN;
  return `probes served ${report.served}, failed ${report.failures.length}, p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${at(1).toFixed(1)} ms`;
}
