import { setTimeout as sleep } from 'node:timers/promises';
import { createClients } from '../../services/cli/clients.js';
import { metricValue } from '../../services/testing/metric-value.js';
import { mts } from './stack.js';

interface PublishResult {
  messagesPerSecond: number;
  latency: { p50Ms: number; p99Ms: number };
}

const fillerSubject = 'bench.expiry.filler';
const windowSeconds = 5;
const deletionsPerSecond = 10_000;
const fillerBatch = 100;

/**
 * Publish latency with and without the expiry worker deleting: 1 KiB unary
 * publishes at concurrency 8 on a subject of their own, first with nothing to
 * expire, then while the messages a filler paced at 10,000/s wrote during the
 * previous `windowSeconds` reach their max_age (= that window) and are
 * deleted. The deletion rate printed is measured from the store's expired
 * counter over the measured run, not assumed.
 */
export async function expiryLines(urls: string[]): Promise<string[]> {
  const [ingressUrl, egressUrl] = [urls[urls.indexOf('--ingress') + 1]!, urls[urls.indexOf('--egress') + 1]!];
  const { ingress, egress } = createClients({ ingress: ingressUrl, egress: egressUrl, protocol: 'grpc' });
  await egress.setRetentionPolicy({ pattern: fillerSubject, maxAgeMs: BigInt(windowSeconds * 1000) });
  const measure = (subject: string) =>
    mts<PublishResult>(
      ['bench', 'publish', '--subject', subject, '--size', '1KiB', '--concurrency', '8', '--duration', `${windowSeconds}s`],
      urls,
    )[0]!;

  const quiet = measure('bench.expiry.quiet');
  process.stderr.write(`> filling ${fillerSubject} at ${deletionsPerSecond}/s for ${windowSeconds}s\n`);
  const messages = Array.from({ length: fillerBatch }, () => ({ subject: fillerSubject, data: new Uint8Array(100) }));
  const start = performance.now();
  for (let sent = 0; sent < deletionsPerSecond * windowSeconds; sent += fillerBatch) {
    const wait = start + (sent / deletionsPerSecond) * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    await ingress.publishBatch({ messages });
  }
  const expiredBefore = await metricValue(egressUrl, 'minitoolstream_expired_messages_total');
  const measuredStart = performance.now();
  const busy = measure('bench.expiry.measured');
  const deleted = (await metricValue(egressUrl, 'minitoolstream_expired_messages_total')) - expiredBefore;
  const rate = Math.round(deleted / ((performance.now() - measuredStart) / 1000));

  const ms = (value: number): string => value.toFixed(1);
  const row = (label: string, r: PublishResult) =>
    `| ${label} | ${Math.round(r.messagesPerSecond)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} |`;
  return [
    '| publish 1 KiB c=8, expiry | msg/s | p50 ms | p99 ms |',
    '|---|---|---|---|',
    row('no expiry', quiet),
    row(`expiry deleting ${rate} msg/s`, busy),
  ];
}
